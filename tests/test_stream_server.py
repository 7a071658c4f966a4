"""Stream links end to end: the emulator over HTTP, a real PutioClient, the webhook app served by
BridgeServer (waitress) on an ephemeral port, requests and ffprobe as the clients."""

from __future__ import annotations

import contextlib
import logging
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import requests

from putbridge.library.links import LinkSigner, StreamUrlCache, StrmLinks
from putbridge.putio import PutioClient
from putbridge.putio.models import File
from tests.conftest import TEST_TOKEN
from tests.factories import probe_duration
from webhook import BridgeServer, create_app
from webhook.stream import absolutize_playlist

SAMPLE_SECONDS = 2.0
URL_ROUTE = "GET /files/<file_id>/url"
HLS_ROUTE = "GET /files/<file_id>/hls/media.m3u8"


@dataclass
class Bridge:
    server: BridgeServer
    cache: StreamUrlCache
    signer: LinkSigner
    links: StrmLinks

    def link(self, file_id: int, mode: str = "bridge", name: str = "Movie.mp4") -> str:
        return self.links.url(File(id=file_id, name=name, file_type="VIDEO"), mode)


@contextlib.contextmanager
def serve(
    client: PutioClient,
    *,
    fetch: Callable[[int], str] | None = None,
    threads: int = 8,
) -> Iterator[Bridge]:
    signer = LinkSigner(secrets.token_bytes(32))
    cache = StreamUrlCache(fetch or client.file_url)
    app = create_app(signer=signer, client=client, url_cache=cache)
    with BridgeServer(app, threads=threads) as server:
        yield Bridge(server, cache, signer, StrmLinks(signer, server.base_url))


@pytest.fixture
def bridge(putio) -> Iterator[Bridge]:
    with serve(putio) as running:
        yield running


@pytest.fixture
def web() -> Iterator[requests.Session]:
    session = requests.Session()
    yield session
    session.close()


def blob_bytes(putio: PutioClient, file_id: int) -> bytes:
    resp = requests.get(putio.file_url(file_id), timeout=10)
    resp.raise_for_status()
    return resp.content


def url_fetches(emulator) -> int:
    return emulator.stats["by_route"].get(URL_ROUTE, 0)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unreachable_client() -> PutioClient:
    return PutioClient(
        TEST_TOKEN,
        api_url=f"http://127.0.0.1:{closed_port()}/v2",
        timeout=2,
        max_attempts=2,
        sleep=lambda _seconds: None,
    )


# ---- /stream: redirects -------------------------------------------------------------------


def test_bridge_link_redirects_to_a_url_serving_the_video(bridge, emulator, putio, web):
    file_id = emulator.add_file("Movie (2010).mp4")
    link = bridge.link(file_id, name="Movie (2010).mp4")
    resp = web.get(link, allow_redirects=False, timeout=10)
    assert resp.status_code == 302
    assert resp.headers["Cache-Control"] == "no-store"
    location = resp.headers["Location"]
    assert TEST_TOKEN not in location
    followed = web.get(link, timeout=10)
    assert followed.status_code == 200
    assert followed.content == blob_bytes(putio, file_id)
    assert len(followed.content) > 10_000

    head = web.head(link, timeout=10)
    assert head.status_code == 302 and head.headers["Location"] == location
    assert head.content == b""


BAD_SIGNATURES: list[Callable[[str, str], str]] = [
    lambda sig, other: other,  # a real signature, for another id
    lambda sig, other: sig[:-1] + ("0" if sig[-1] != "0" else "1"),
    lambda sig, other: sig.upper(),
    lambda sig, other: sig[:31],
    lambda sig, other: sig + "0",
    lambda sig, other: "z" * 32,
    lambda sig, other: "%C3%A9" * 32,
    lambda sig, other: "0" * 32,
]


@pytest.mark.parametrize("mode", ["bridge", "hls", "proxy"])
@pytest.mark.parametrize("tamper", BAD_SIGNATURES)
def test_bad_signatures_get_an_empty_403(bridge, emulator, web, mode, tamper):
    file_id = emulator.add_file("Movie.mp4")
    other = emulator.add_file("Other.mp4")
    link = bridge.link(file_id, mode)
    sig = bridge.signer.sign(file_id)
    bad = link.replace(f"/{sig}/", f"/{tamper(sig, bridge.signer.sign(other))}/")
    assert bad != link
    emulator.reset_stats()
    for method in ("GET", "HEAD"):
        resp = web.request(method, bad, allow_redirects=False, timeout=10)
        assert resp.status_code == 403
        assert resp.content == b""
        assert "Location" not in resp.headers
    assert emulator.stats["requests"] == 0  # refused before put.io is asked


def test_the_url_cache_spares_put_io(bridge, emulator):
    ids = [emulator.add_file(f"Movie {n}.mkv") for n in range(100)]
    links = [bridge.link(file_id) for file_id in ids]
    emulator.reset_stats()

    def visit(start: int) -> list[int]:
        with requests.Session() as session:
            return [
                session.get(links[(start + n) % 100], allow_redirects=False, timeout=10).status_code
                for n in range(125)
            ]

    with ThreadPoolExecutor(8, thread_name_prefix="visitor") as pool:
        statuses = [code for codes in pool.map(visit, range(0, 800, 100)) for code in codes]
    assert len(statuses) == 1000 and set(statuses) == {302}
    assert url_fetches(emulator) == 100  # one per distinct link, whatever the interleaving
    assert bridge.cache.fetch_count == 100


# ---- /proxy: bytes with Range -------------------------------------------------------------


def test_proxy_relays_the_whole_file(bridge, emulator, putio, web):
    file_id = emulator.add_file("Movie.mkv")
    expected = blob_bytes(putio, file_id)
    resp = web.get(bridge.link(file_id, "proxy", "Movie.mkv"), timeout=10)
    assert resp.status_code == 200
    assert resp.content == expected
    assert resp.headers["Content-Length"] == str(len(expected))
    assert resp.headers["Accept-Ranges"] == "bytes"
    assert resp.headers["Content-Type"].startswith("video/")
    assert "Location" not in resp.headers

    head = web.head(bridge.link(file_id, "proxy", "Movie.mkv"), timeout=10)
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(len(expected))
    assert head.content == b""


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [("bytes=100-199", 100, 200), ("bytes=1000-", 1000, None), ("bytes=-500", -500, None)],
)
def test_proxy_honours_ranges(bridge, emulator, putio, web, header, start, stop):
    file_id = emulator.add_file("Movie.mp4")
    expected = blob_bytes(putio, file_id)
    size = len(expected)
    resp = web.get(bridge.link(file_id, "proxy"), headers={"Range": header}, timeout=10)
    assert resp.status_code == 206
    part = expected[start:stop]
    assert resp.content == part
    first = start if start >= 0 else size + start
    assert resp.headers["Content-Range"] == f"bytes {first}-{first + len(part) - 1}/{size}"
    assert resp.headers["Content-Length"] == str(len(part))


def test_proxy_passes_on_an_unsatisfiable_range(bridge, emulator, web):
    file_id = emulator.add_file("Movie.mp4", size=5000)
    resp = web.get(bridge.link(file_id, "proxy"), headers={"Range": "bytes=9000-"}, timeout=10)
    assert resp.status_code == 416
    assert resp.headers["Content-Range"] == "bytes */5000"


def dead_url(url: str) -> str:
    """``url`` with a broken signature: put.io storage refuses it like an expired one."""
    parts = url.split("/")
    parts[-2] = "0" * len(parts[-2])
    return "/".join(parts)


def test_proxy_refetches_an_expired_url_once(putio, emulator, web):
    file_id = emulator.add_file("Movie.mp4")
    handed_out: list[str] = []

    def fetch(fid: int) -> str:
        url = putio.file_url(fid)
        if not handed_out:  # the first URL is dead, as after put.io expired it
            url = dead_url(url)
        handed_out.append(url)
        return url

    with serve(putio, fetch=fetch) as bridge:
        resp = web.get(bridge.link(file_id, "proxy"), timeout=10)
        assert resp.status_code == 200
        assert resp.content == blob_bytes(putio, file_id)
        assert bridge.cache.fetch_count == 2
        again = web.get(bridge.link(file_id, "proxy"), timeout=10)
        assert again.status_code == 200 and bridge.cache.fetch_count == 2


def test_proxy_gives_up_after_one_fresh_url(putio, emulator, web):
    file_id = emulator.add_file("Movie.mp4")
    with serve(putio, fetch=lambda fid: dead_url(putio.file_url(fid))) as bridge:
        resp = web.get(bridge.link(file_id, "proxy"), timeout=10)
        assert resp.status_code == 502
        assert bridge.cache.fetch_count == 2


def test_a_client_leaving_mid_stream_frees_the_worker(putio, emulator):
    file_id = emulator.add_file("Huge.mkv", size=400_000_000)
    with serve(putio, threads=1) as bridge, requests.Session() as session:
        resp = session.get(bridge.link(file_id, "proxy"), stream=True, timeout=10)
        assert resp.status_code == 200
        assert len(next(resp.iter_content(256 * 1024))) > 0
        resp.close()
        # One worker: this is answered only once the abandoned stream let go of it.
        with requests.Session() as other:
            answer = other.get(bridge.link(file_id), allow_redirects=False, timeout=15)
        assert answer.status_code == 302


class EndlessStorage:
    """A one-connection storage server sending zeros until its client hangs up."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(20)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/blob/huge.mkv"
        self.hung_up = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="endless-storage")
        self._thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(20)
            try:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(4096)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: video/x-matroska\r\n"
                    b"Content-Length: 100000000000\r\n\r\n"
                )
                while True:
                    conn.sendall(bytes(64 * 1024))
            except OSError:
                self.hung_up.set()

    def close(self) -> None:
        self._listener.close()
        self._thread.join(30)


def test_a_client_leaving_mid_stream_closes_the_storage_connection(putio, web):
    storage = EndlessStorage()
    try:
        with serve(putio, fetch=lambda _fid: storage.url) as bridge:
            resp = web.get(bridge.link(5, "proxy"), stream=True, timeout=10)
            assert resp.status_code == 200
            assert len(next(resp.iter_content(64 * 1024))) > 0
            resp.close()
            assert storage.hung_up.wait(15)
    finally:
        storage.close()


def test_stop_is_quick_while_a_stream_is_open(putio, emulator):
    file_id = emulator.add_file("Huge.mkv", size=400_000_000)
    with serve(putio) as bridge, requests.Session() as session:
        resp = session.get(bridge.link(file_id, "proxy"), stream=True, timeout=10)
        assert len(next(resp.iter_content(64 * 1024))) > 0
        started = time.monotonic()
        bridge.server.stop()
        assert time.monotonic() - started < 5
        assert not bridge.server.running
        resp.close()


# ---- /stream/.../media.m3u8: HLS ----------------------------------------------------------


def test_hls_link_serves_put_io_playlist_without_the_token(bridge, emulator, web):
    file_id = emulator.add_file("Movie.mkv", size=700_000_000)
    link = bridge.link(file_id, "hls")
    assert link.endswith("/media.m3u8")
    resp = web.get(link, timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/vnd.apple.mpegurl"
    assert resp.headers["Cache-Control"] == "no-store"
    body = resp.text
    assert body.startswith("#EXTM3U")
    assert TEST_TOKEN not in body and "oauth_token" not in body
    segments = [line for line in body.splitlines() if line and not line.startswith("#")]
    assert len(segments) == 2
    for url in segments:
        assert urlsplit(url).scheme == "http"  # absolute: fetched from put.io, not from us
        segment = requests.get(url, timeout=10)  # no token, no bridge
        assert segment.status_code == 200 and len(segment.content) > 1000
    assert emulator.stats["by_route"].get(HLS_ROUTE) == 1
    assert web.head(link, timeout=10).status_code == 200


def test_playlist_uris_are_made_absolute():
    base = "https://api.put.io/v2/files/7/hls/media.m3u8?subtitle_key=all"
    playlist = "\n".join(
        [
            "#EXTM3U",
            '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="en",URI="audio/en.m3u8"',
            '#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example/k1"',
            "#EXTINF:10.0,",
            "seg0.ts?sig=abc",
            "",
            "#EXTINF:10.0,",
            "/absolute/seg1.ts",
            "https://cdn.put.io/seg2.ts",
            "#EXT-X-ENDLIST",
        ]
    )
    lines = absolutize_playlist(playlist, base).splitlines()
    assert lines[1].endswith('URI="https://api.put.io/v2/files/7/hls/audio/en.m3u8"')
    assert lines[2].endswith('URI="https://keys.example/k1"')
    assert lines[4] == "https://api.put.io/v2/files/7/hls/seg0.ts?sig=abc"
    assert lines[5] == ""
    assert lines[7] == "https://api.put.io/absolute/seg1.ts"
    assert lines[8] == "https://cdn.put.io/seg2.ts"
    assert lines[9] == "#EXT-X-ENDLIST"


def test_hls_of_a_file_put_io_cannot_stream_is_a_502(bridge, emulator, web):
    file_id = emulator.add_file("notes.txt")
    resp = web.get(bridge.link(file_id, "hls"), timeout=10)
    assert resp.status_code == 502
    assert TEST_TOKEN not in resp.text


# ---- put.io errors ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["bridge", "hls", "proxy"])
def test_a_file_put_io_does_not_have_is_a_404(bridge, web, mode):
    resp = web.get(bridge.link(987654, mode), allow_redirects=False, timeout=10)
    assert resp.status_code == 404


@pytest.mark.parametrize("mode", ["bridge", "hls", "proxy"])
def test_put_io_down_is_a_quick_503(web, mode):
    with unreachable_client() as client, serve(client) as bridge:
        started = time.monotonic()
        resp = web.get(bridge.link(1001, mode), allow_redirects=False, timeout=30)
        assert resp.status_code == 503
        assert time.monotonic() - started < 10
        assert "try again" in resp.text


def test_put_io_going_down_is_a_503(emulator, emulator_server, web):
    file_id = emulator.add_file("Movie.mp4")
    with (
        PutioClient(
            TEST_TOKEN,
            api_url=emulator_server.api_url,
            timeout=2,
            max_attempts=2,
            sleep=lambda _seconds: None,
        ) as client,
        serve(client) as bridge,
    ):
        link = bridge.link(file_id)
        assert web.get(link, allow_redirects=False, timeout=10).status_code == 302
        bridge.cache.clear()
        emulator_server.stop()
        resp = web.get(link, allow_redirects=False, timeout=30)
        assert resp.status_code == 503


def test_a_refused_token_is_a_502_logged_once(emulator, emulator_server, web, caplog):
    file_id = emulator.add_file("Movie.mp4")
    wrong = "wrong-token-7c1d2e3f4a"
    with (
        PutioClient(wrong, api_url=emulator_server.api_url, timeout=5) as client,
        serve(client) as bridge,
        caplog.at_level(logging.DEBUG, logger="putbridge.webhook.stream"),
    ):
        for _ in range(3):
            resp = web.get(bridge.link(file_id), allow_redirects=False, timeout=10)
            assert resp.status_code == 502
            assert resp.text.strip() == "put.io refused the bridge's token"
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert all(wrong not in r.getMessage() for r in caplog.records)


def test_rate_limiting_is_a_503_with_retry_after(emulator, emulator_server, web):
    file_id = emulator.add_file("Movie.mp4")
    with PutioClient(
        TEST_TOKEN, api_url=emulator_server.api_url, timeout=5, max_rate_limit_wait=0
    ) as client:
        emulator.set_faults(rate_limit=(1, 3600))
        client.account_info()  # spends the budget
        with serve(client) as bridge:
            resp = web.get(bridge.link(file_id), allow_redirects=False, timeout=10)
        emulator.set_faults(rate_limit=None)
    assert resp.status_code == 503
    assert int(resp.headers["Retry-After"]) >= 1


# ---- ffprobe, as a media server runs it on a .strm URL ------------------------------------


@pytest.mark.parametrize(
    ("mode", "name", "size"),
    [
        ("bridge", "Movie.mp4", None),
        ("bridge", "Movie.mkv", 50_000_000),
        ("proxy", "Movie.mp4", 50_000_000),
        ("proxy", "Movie.mkv", None),
        ("hls", "Movie.mkv", 700_000_000),
    ],
)
def test_ffprobe_reads_the_sample_through_the_link(ffprobe, bridge, emulator, mode, name, size):
    file_id = emulator.add_file(name, size=size)
    duration = probe_duration(ffprobe, bridge.link(file_id, mode, name))
    assert duration == pytest.approx(SAMPLE_SECONDS, abs=0.25)


# ---- the server itself --------------------------------------------------------------------


def test_bridge_server_lifecycle(bridge):
    server = bridge.server
    assert server.running
    assert server.base_url == f"http://127.0.0.1:{server.port}" and server.port > 0
    assert server.start() is server  # already running: nothing new
    names = {t.name for t in threading.enumerate()}
    assert f"putbridge-http-{server.port}" in names
    assert sum(name.startswith("putbridge-http-worker-") for name in names) == 8
    server.stop()
    server.stop()
    assert not server.running
    assert not [t for t in threading.enumerate() if t.name.startswith("putbridge-http")]
    with pytest.raises(requests.ConnectionError):
        requests.get(server.base_url + "/", timeout=5)


@pytest.fixture
def offline_app():
    with PutioClient(TEST_TOKEN, api_url=f"http://127.0.0.1:{closed_port()}/v2") as client:
        yield create_app(
            signer=LinkSigner(bytes(32)),
            client=client,
            url_cache=StreamUrlCache(client.file_url),
        )


def test_bridge_server_refuses_a_taken_port(offline_app):
    with BridgeServer(offline_app) as first:
        second = BridgeServer(offline_app, port=first.port)
        with pytest.raises(OSError):
            second.start()
        assert not second.running
        second.stop()  # harmless
        resp = requests.get(first.base_url + "/", timeout=5)
        assert resp.status_code == 404
