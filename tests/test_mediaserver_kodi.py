"""KodiServer against a real Kodi (Debian's kodi 20, headless under Xvfb: see tests/kodi.py), and
against a small hostile JSON-RPC stand-in for what a real Kodi will not do on demand (garbage,
500s, hangs, a scan that never ends).

The end-to-end test completes a transfer in the emulator, lets putbridge write the .strm and
.nfo into Kodi's source, scans it through KodiServer, and plays it: Kodi must fetch the bridge's
stream link, which asks put.io (the emulator) for the file's URL.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import threading
import time
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest

from putbridge.config import LibrarySettings, MediaServerSettings
from putbridge.errors import MediaServerError
from putbridge.intake.sources import parse_link
from putbridge.mediaservers.kodi import KodiServer, jsonrpc_endpoint
from putbridge.service import Service
from tests.daemon_helpers import daemon_settings, free_port, live_emulator, wait_for
from tests.kodi import SOURCE_NAME, RunningKodi, kodi_binary, source_path

URL_ROUTE = "GET /files/<file_id>/url"  # the emulator's stats key for put.io's file URL


# ---- a real Kodi, one per session --------------------------------------------------------


@pytest.fixture(scope="session")
def kodi(tmp_path_factory):
    if kodi_binary() is None or shutil.which("Xvfb") is None:
        pytest.fail("kodi and xvfb are not installed: apt-get install kodi xvfb (.ci/run does)")
    work = tmp_path_factory.mktemp("kodi")
    # A source folder with a space, an accent and a quote: Kodi gets it through a built-in
    # command string, where such characters need quoting.
    with RunningKodi(work, work / "Kodi's Bibliothèque") as running:
        yield running


def server_for(kodi: RunningKodi, **overrides) -> KodiServer:
    fields = {"kind": "kodi", "url": kodi.url, "username": kodi.username}
    fields["password"] = kodi.password
    fields.update(overrides)
    return KodiServer(MediaServerSettings(**fields))


def write_movie(root: Path, title: str) -> Path:
    """A .strm + .nfo pair as putbridge's movies layout writes it."""
    folder = root / title
    folder.mkdir(parents=True)
    (folder / f"{title}.strm").write_text("http://127.0.0.1:9/stream/1/x/video.mkv\n")
    name, year = title.rsplit(" (", 1)
    (folder / f"{title}.nfo").write_text(
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f"<movie>\n  <title>{name}</title>\n  <year>{year.rstrip(')')}</year>\n</movie>\n",
        encoding="utf-8",
    )
    return folder


def movie_files(kodi: RunningKodi) -> set[str]:
    result = kodi.rpc("VideoLibrary.GetMovies", {"properties": ["file"]})
    return {movie["file"] for movie in result.get("movies", [])}


def test_check_reports_version_and_source(kodi):
    for url in (kodi.url, kodi.url + "/jsonrpc", kodi.url + "/jsonrpc/"):
        with closing(server_for(kodi, url=url)) as server:
            result = server.check()
        assert result.ok, result.detail
        assert re.fullmatch(rf"Kodi \d+\.\d+: 1 video source \({SOURCE_NAME}\)", result.detail)
        assert result.roots == [source_path(kodi.source)]


def test_check_with_a_wrong_or_no_password_is_not_ok(kodi):
    with closing(server_for(kodi, password="wrong-secret-Z")) as server:
        result = server.check()
    assert not result.ok
    assert "HTTP 401" in result.detail and "refused" in result.detail
    assert "wrong-secret-Z" not in result.detail and "\n" not in result.detail
    with closing(server_for(kodi, username="", password="")) as server:
        result = server.check()
    assert not result.ok and "Kodi wants a username" in result.detail


def test_check_filters_sources_by_label(kodi):
    with closing(server_for(kodi, libraries=[SOURCE_NAME.upper()])) as server:
        assert server.check().ok
    with closing(server_for(kodi, libraries=["Cartoons"])) as server:
        result = server.check()
    assert not result.ok
    assert "no video source named 'Cartoons'" in result.detail and SOURCE_NAME in result.detail


def test_locate_names_the_source_by_whole_components(kodi):
    inside = str(kodi.source / "Heat (1995)")
    sibling = str(kodi.source) + " 2/Heat (1995)"
    with closing(server_for(kodi)) as server:
        assert server.locate(inside) == f"video source '{SOURCE_NAME}' ({source_path(kodi.source)})"
        assert server.locate(str(kodi.source)).startswith(f"video source '{SOURCE_NAME}'")
        assert server.locate(sibling) == "no Kodi video source contains it"
        assert server.locate("/nowhere") == "no Kodi video source contains it"
    with closing(server_for(kodi, libraries=["Cartoons"])) as server:
        assert server.locate(inside).endswith("which is not among the configured libraries")


def test_scans_wait_for_each_other(kodi):
    """Kodi stops a running scan when asked for another: without the wait, the big folder's
    scan would be cut short and the second folder never scanned."""
    bulk = kodi.source / "Bulk, 'quoted'"
    for n in range(250):
        write_movie(bulk, f"Bulk Film {n} ({1950 + n % 70})")
    single = write_movie(kodi.source, "Crouching Tiger, Hidden Dragon (2000)")
    with closing(server_for(kodi)) as server:
        result = server.scan([str(bulk), str(single)])
        assert result.ok and result.detail == "Kodi scans 2 folders", result.detail

    def all_in() -> bool:  # Kodi's "scanning" flag can read stale: wait for the files
        files = movie_files(kodi)
        return (
            str(single / "Crouching Tiger, Hidden Dragon (2000).strm") in files
            and sum(f.startswith(str(bulk) + "/") for f in files) == 250
        )

    assert wait_for(all_in, timeout=30)


def test_the_end_to_end_transfer_is_scanned_and_played(kodi, tmp_path):
    with live_emulator() as (emu, server):
        settings = daemon_settings(tmp_path, server)
        settings.library = [
            LibrarySettings(path=str(kodi.source), source="/Movies", layout="movies")
        ]
        settings.blackhole = []
        # The daemon itself tells Kodi: the [[mediaserver]] entry, its debounce, its thread.
        settings.mediaserver = [
            MediaServerSettings(
                kind="kodi", url=kodi.url, username=kodi.username, password=kodi.password
            )
        ]
        settings.transfers.scan_debounce = 0.2
        name = "Amélie.2001.1080p.BluRay.mkv"
        magnet = f"magnet:?xt=urn:btih:{'a1' * 20}&dn={quote(name)}&xl=3000000"
        with Service(settings) as service:
            record, _ = service.transfers.add(parse_link(magnet), target="/Movies", origin="t")
            assert wait_for(lambda: service.ledger.get(record.id).state == "scanned", 30), (
                service.ledger.get(record.id)
            )
            folder = kodi.source / "Amélie (2001)"
            strm = folder / "Amélie (2001).strm"
            assert strm.is_file() and (folder / "Amélie (2001).nfo").is_file()
            link = strm.read_text().strip()
            assert link.startswith(f"{service.base_url}/stream/")
            assert wait_for(lambda: str(strm) in movie_files(kodi), timeout=20)
            movies = kodi.rpc("VideoLibrary.GetMovies", {"properties": ["file", "year"]})
            (movie,) = [m for m in movies["movies"] if m["file"] == str(strm)]
            assert movie["label"] == "Amélie" and movie["year"] == 2001

            asked = emu.stats["by_route"].get(URL_ROUTE, 0)
            assert kodi.rpc("Player.Open", {"item": {"file": str(strm)}}) == "OK"
            # The bridge's /stream asks put.io for the file's URL, then redirects Kodi there.
            assert wait_for(lambda: emu.stats["by_route"].get(URL_ROUTE, 0) > asked, 20), (
                f"Kodi never fetched {link}: {kodi.tail_log()}"
            )
            assert wait_for(lambda: kodi.rpc("Player.GetActivePlayers"), timeout=20)
            kodi.stop_playing()


# ---- a hostile stand-in for what a real Kodi will not do on demand ----------------------


class FakeKodi:
    """A JSON-RPC endpoint on an ephemeral port. ``answers`` maps a method to a function of
    the params returning (status, body); every request is kept in ``calls``."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.auth: list[str | None] = []
        self.answers: dict = {
            "XBMC.GetInfoBooleans": lambda p: rpc_result({b: False for b in p["booleans"]}),
            "VideoLibrary.Scan": lambda p: rpc_result("OK"),
            "VideoLibrary.Clean": lambda p: rpc_result("OK"),
            "Files.GetSources": lambda p: rpc_result(
                {"sources": [{"file": "/data/Movies/", "label": "Movies"}]}
            ),
            "Application.GetProperties": lambda p: rpc_result(
                {"name": "Kodi", "version": {"major": 21, "minor": 2}}
            ),
        }
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                length = int(self.headers.get("Content-Length") or 0)
                request = json.loads(self.rfile.read(length))
                fake.calls.append(request)
                fake.auth.append(self.headers.get("Authorization"))
                status, body = fake.answers[request["method"]](request.get("params"))
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the timeout test)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-kodi"
        )

    def methods(self) -> list[str]:
        return [call["method"] for call in self.calls]

    def params(self, method: str) -> list:
        return [call.get("params") for call in self.calls if call["method"] == method]


def rpc_result(result) -> tuple[int, dict]:
    return 200, {"id": 1, "jsonrpc": "2.0", "result": result}


@pytest.fixture
def fake():
    server = FakeKodi()
    server._thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()
    server._thread.join(5)


def fake_server(fake: FakeKodi, **overrides) -> KodiServer:
    fields = {"kind": "kodi", "url": fake.url, "username": "kodi", "password": "s3cret-Ω"}
    fields.update(overrides)
    return KodiServer(MediaServerSettings(**fields))


def test_requests_carry_basic_auth_in_utf8_and_the_scan_parameters(fake):
    with closing(fake_server(fake)) as server:
        result = server.scan(["/data/Movies/Heat (1995)", "/data/Movies/Alien (1979)/"])
    assert result.ok
    scans = fake.params("VideoLibrary.Scan")
    assert scans == [
        {"directory": "/data/Movies/Heat (1995)/", "showdialogs": False},
        {"directory": "/data/Movies/Alien (1979)/", "showdialogs": False},
    ]
    expected = "Basic " + base64.b64encode("kodi:s3cret-Ω".encode()).decode()
    assert set(fake.auth) == {expected}
    assert "VideoLibrary.Clean" not in fake.methods()
    # Without a username no Authorization header is sent at all.
    with closing(fake_server(fake, username="", password="")) as server:
        server.scan(["/data/Movies/Heat (1995)"])
    assert fake.auth[-1] is None


def test_clean_runs_once_after_removals_only_when_asked(fake):
    with closing(fake_server(fake)) as server:
        result = server.scan(["/data/Movies/A (2001)", "/data/Movies/B (2002)"], removed=True)
    assert "until a library clean" in result.detail
    assert "VideoLibrary.Clean" not in fake.methods()
    before = len(fake.methods())
    with closing(fake_server(fake, clean=True)) as server:
        result = server.scan(["/data/Movies/A (2001)", "/data/Movies/B (2002)"], removed=True)
    assert result.ok and "cleans its video library" in result.detail
    assert fake.params("VideoLibrary.Clean") == [{"showdialogs": False}]
    methods = fake.methods()[before:]
    # Before the scans (nothing of ours runs then), and only once Kodi said it was idle.
    assert methods.index("VideoLibrary.Clean") < methods.index("VideoLibrary.Scan")
    assert methods[methods.index("VideoLibrary.Clean") - 1] == "XBMC.GetInfoBooleans"


def test_a_kodi_that_keeps_scanning_defers_the_scan(fake):
    fake.answers["XBMC.GetInfoBooleans"] = lambda p: rpc_result({p["booleans"][0]: True})
    folders = ["/data/Movies/A (2001)", "/data/Movies/B (2002)"]
    started = time.monotonic()
    with closing(fake_server(fake, timeout=0.2)) as server:
        result = server.scan(folders)
    assert 0.9 < time.monotonic() - started < 5  # waits at least a second, whatever timeout
    assert result.deferred and result.ok  # busy, not failed: the notifier asks again later
    assert result.pending == folders
    assert "VideoLibrary.Scan" not in fake.methods()


def test_scan_waits_for_a_running_scan_to_end(fake):
    busy_until = time.monotonic() + 0.5

    def scanning(params):
        return rpc_result({params["booleans"][0]: time.monotonic() < busy_until})

    fake.answers["XBMC.GetInfoBooleans"] = scanning
    with closing(fake_server(fake)) as server:
        assert server.scan(["/data/Movies/A (2001)"]).ok
    assert time.monotonic() >= busy_until
    assert len(fake.params("VideoLibrary.Scan")) == 1
    assert len(fake.params("XBMC.GetInfoBooleans")) >= 3  # polled while busy, then twice idle


def test_folders_outside_every_source_are_noted_and_unselected_sources_skipped(fake, caplog):
    fake.answers["Files.GetSources"] = lambda p: rpc_result(
        {
            "sources": [
                {"file": "/data/Movies/", "label": "Movies"},
                {"file": "multipath://%2fdata%2fKids%2f/%2fmnt%2fKids%2f/", "label": "Kids"},
            ]
        }
    )
    with closing(fake_server(fake, libraries=["movies"])) as server:
        result = server.scan(["/data/Movies/A (2001)", "/mnt/Kids/B (2002)", "/elsewhere/C"])
        assert server.locate("/mnt/Kids/B (2002)").startswith("video source 'Kids' (/mnt/Kids/)")
        check = server.check()
    assert result.ok
    assert [p["directory"] for p in fake.params("VideoLibrary.Scan")] == [
        "/data/Movies/A (2001)/",
        "/elsewhere/C/",
    ]
    assert "1 in no video source" in result.detail and "skipped 1 folder" in result.detail
    assert "'/elsewhere/C'" in caplog.text
    assert check.ok and check.detail == "Kodi 21.2: 1 video source (Movies)"
    assert check.roots == ["/data/Movies/"]


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (500, b"<html>Internal \n error</html>", "HTTP 500 <html>Internal error</html>"),
        (200, b"not json at all", "the answer is not JSON: not json at all"),
        (200, b"[1, 2]", "not a JSON-RPC object"),
        (200, b'{"id": 1, "jsonrpc": "2.0"}', "the answer has no result"),
        (200, b'{"id": 1, "error": {"code": -32100, "message": "Failed"}}', "Failed (code -32100)"),
        (200, b'{"id": 1, "jsonrpc": "2.0", "result": "Nope"}', "VideoLibrary.Scan answered"),
        (404, b"", "HTTP 404 (is the url Kodi's web server?)"),
    ],
)
def test_hostile_answers_become_one_line_errors(fake, status, body, expected):
    fake.answers["VideoLibrary.Scan"] = lambda p: (status, body)
    fake.answers["Application.GetProperties"] = lambda p: (status, body)
    with closing(fake_server(fake)) as server:
        with pytest.raises(MediaServerError) as caught:
            server.scan(["/data/Movies/A (2001)"])
        check = server.check()
    message = str(caught.value)
    assert message.startswith(f"Kodi at {fake.url}/jsonrpc: ") and expected in message
    assert "\n" not in message and "s3cret" not in message
    if expected != "VideoLibrary.Scan answered":  # a check does not scan
        assert not check.ok and "\n" not in check.detail


def test_no_answer_and_no_server_are_errors_and_never_show_the_password(fake):
    fake.answers["Application.GetProperties"] = lambda p: (time.sleep(0.6), rpc_result({}))[1]
    url = f"http://kodi:s3cret-Ω@{fake.url.removeprefix('http://')}"
    with closing(fake_server(fake, url=url, timeout=0.2)) as server:
        result = server.check()
    assert not result.ok and "no answer within 0.2 s" in result.detail
    assert "s3cret" not in result.detail
    with closing(fake_server(fake, url=f"http://127.0.0.1:{free_port()}")) as server:
        with pytest.raises(MediaServerError, match="unreachable: Connection refused"):
            server.scan(["/data/Movies/A (2001)"])


def test_the_endpoint_is_found_with_or_without_jsonrpc():
    assert jsonrpc_endpoint("http://h:8080") == "http://h:8080/jsonrpc"
    assert jsonrpc_endpoint("http://h:8080/") == "http://h:8080/jsonrpc"
    assert jsonrpc_endpoint("http://h:8080/jsonrpc") == "http://h:8080/jsonrpc"
    assert jsonrpc_endpoint(" http://h/kodi/JSONRPC/ ") == "http://h/kodi/JSONRPC"


def test_a_busy_kodi_is_deferred_by_the_notifier_not_failed(fake, tmp_path):
    from putbridge.mediaservers.notifier import ScanNotifier, last_scan_results, pending_scans
    from putbridge.store import Store

    sent: list[str] = []
    scans_left = {"n": 1}  # Kodi gets busy once the first Scan is sent

    def scan(params):
        sent.append(params["directory"])
        return rpc_result("OK")

    def scanning(params):
        return rpc_result({params["booleans"][0]: len(sent) >= scans_left["n"]})

    fake.answers["VideoLibrary.Scan"] = scan
    fake.answers["XBMC.GetInfoBooleans"] = scanning
    clock = [1000.0]
    with Store(tmp_path / "s.db") as store, closing(fake_server(fake, timeout=0.2)) as server:
        notifier = ScanNotifier(
            [server], store, roots=["/data/Movies"], debounce=1, now=lambda: clock[0]
        )
        notifier.notify(["/data/Movies/A (2001)/a.strm", "/data/Movies/B (2002)/b.strm"])
        clock[0] += 1
        notifier.send_due()
        assert sent == ["/data/Movies/A (2001)/"] and pending_scans(store) == {"kodi": 1}
        assert "kodi" not in last_scan_results(store)  # deferred is not a failure
        scans_left["n"] = 99  # Kodi is done
        clock[0] += 5
        notifier.send_due()
    assert sent == ["/data/Movies/A (2001)/", "/data/Movies/B (2002)/"]
