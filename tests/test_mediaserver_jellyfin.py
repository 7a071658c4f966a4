"""Jellyfin and Emby over real HTTP against a strict fake: auth per flavour, body shapes, errors,
library lookups, and the token kept out of logs and messages."""

from __future__ import annotations

import logging
import socket
import threading
import unicodedata

import pytest
import requests

from putbridge import __version__
from putbridge.config import MediaServerSettings
from putbridge.errors import MediaServerError
from putbridge.mediaservers.jellyfin import EmbyServer, JellyfinServer
from tests.fake_jellyfin import FakeJellyfin, virtual_folder

TOKEN = "jf-api-key-9d3c7a51e0b84f26"
USER_TOKEN = "jf-user-key-55aa11bb22cc33dd"
LIBRARIES = [
    virtual_folder("Movies", "/data/Movies", "/mnt/more/Movies"),
    virtual_folder("TV", "/data/TV", collection="tvshows"),
    virtual_folder("TV Kids", "/data/TV/Kids", collection="tvshows"),
    virtual_folder("Anime", "/data/TV2", collection="tvshows"),
]
KINDS = {"jellyfin": JellyfinServer, "emby": EmbyServer}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=["jellyfin", "emby"])
def flavour(request) -> str:
    return request.param


@pytest.fixture
def fake(flavour):
    with FakeJellyfin(
        flavour, token=TOKEN, user_tokens=(USER_TOKEN,), libraries=list(LIBRARIES)
    ) as server:
        yield server


@pytest.fixture
def connect():
    """Build servers of any kind; every one is closed after the test."""
    made = []

    def make(kind: str, url: str, **settings) -> JellyfinServer | EmbyServer:
        settings.setdefault("token", TOKEN)
        settings.setdefault("timeout", 5.0)
        server = KINDS[kind](MediaServerSettings(kind=kind, url=url, **settings))
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


@pytest.fixture
def server(connect, fake, flavour):
    return connect(flavour, fake.url)


# ---- check -------------------------------------------------------------------------------------


def test_check_reports_name_version_and_library_roots(server, fake, flavour):
    result = server.check()
    assert result.ok, result.detail
    assert "'Living Room' 10.11.0" in result.detail and "4 libraries" in result.detail
    assert result.detail.startswith("Jellyfin" if flavour == "jellyfin" else "Emby")
    assert result.roots == [
        "/data/Movies",
        "/mnt/more/Movies",
        "/data/TV",
        "/data/TV/Kids",
        "/data/TV2",
    ]
    assert "\n" not in result.detail


def test_check_keeps_only_the_configured_libraries(connect, fake, flavour):
    result = connect(flavour, fake.url, libraries=[" movies ", "Anime"]).check()
    assert result.ok and result.roots == ["/data/Movies", "/mnt/more/Movies", "/data/TV2"]
    assert "2 libraries (Movies, Anime)" in result.detail


def test_check_names_a_configured_library_the_server_lacks(connect, fake, flavour):
    result = connect(flavour, fake.url, libraries=["Movies", "Films"]).check()
    assert not result.ok
    assert "'Films'" in result.detail and "has: Movies, TV, TV Kids, Anime" in result.detail


def test_check_with_a_wrong_token_is_not_ok_and_says_why(connect, fake, flavour):
    result = connect(flavour, fake.url, token="wrong-token-123456").check()
    assert not result.ok and result.roots == []
    assert "HTTP 401" in result.detail and "token was refused" in result.detail
    assert "wrong-token-123456" not in result.detail


def test_check_with_a_user_token_is_ok_without_roots(connect, fake, flavour):
    result = connect(flavour, fake.url, token=USER_TOKEN).check()
    assert result.ok and result.roots == []
    assert "hidden from this token (403)" in result.detail


@pytest.mark.parametrize("kind", ["jellyfin", "emby"])
def test_check_of_a_server_that_is_down(connect, kind):
    result = connect(kind, f"http://127.0.0.1:{free_port()}").check()
    assert not result.ok
    assert "unreachable: Connection refused" in result.detail
    assert "\n" not in result.detail and "HTTPConnectionPool" not in result.detail


def test_check_of_a_server_answering_html_is_not_ok(server, fake):
    fake.garbage = True
    result = server.check()
    assert not result.ok
    assert "not JSON" in result.detail and "Login" in result.detail


def test_check_of_a_failing_server(server, fake):
    fake.fail = True
    result = server.check()
    assert not result.ok and "HTTP 500" in result.detail


# ---- auth headers --------------------------------------------------------------------------------


def test_jellyfin_uses_the_mediabrowser_scheme_that_jellyfin_12_requires(connect):
    with FakeJellyfin("jellyfin", token=TOKEN, legacy=False, libraries=LIBRARIES) as fake:
        # The strict fake really refuses the legacy header, so acceptance below means something.
        legacy = requests.get(f"{fake.url}/System/Info", headers={"X-Emby-Token": TOKEN}, timeout=5)
        assert legacy.status_code == 401
        first = connect("jellyfin", fake.url)
        assert first.check().ok
        assert first.scan(["/data/Movies/Heat (1995)"]).ok
    for seen in fake.seen[1:]:
        assert seen.status in (200, 204)
        assert seen.headers["Authorization"].startswith("MediaBrowser ")
        assert "X-Emby-Token" not in seen.headers
        assert seen.auth == {
            "Token": TOKEN,
            "Client": "putbridge",
            "Device": "putbridge",
            "DeviceId": first.device_id,
            "Version": __version__,
        }
    # The same configuration gives the same DeviceId: one device in Jellyfin's list, not many.
    assert connect("jellyfin", fake.url).device_id == first.device_id
    assert connect("jellyfin", fake.url, name="other").device_id != first.device_id


def test_a_legacy_jellyfin_accepts_the_old_header_too():
    """The fake's legacy switch, as 10.10/10.11 behave (guards the strict test above)."""
    with FakeJellyfin("jellyfin", token=TOKEN, legacy=True) as fake:
        answer = requests.get(f"{fake.url}/System/Info", headers={"X-Emby-Token": TOKEN}, timeout=5)
    assert answer.status_code == 200 and answer.json()["ProductName"] == "Jellyfin Server"


def test_emby_sends_x_emby_token(connect):
    with FakeJellyfin("emby", token=TOKEN, libraries=LIBRARIES) as fake:
        refused = requests.get(
            f"{fake.url}/System/Info",
            headers={"Authorization": f'MediaBrowser Token="{TOKEN}"'},
            timeout=5,
        )
        assert refused.status_code == 401
        emby = connect("emby", fake.url)
        assert emby.check().ok
        emby.scan(["/data/TV/Show"])
    for seen in fake.seen[1:]:
        assert seen.headers["X-Emby-Token"] == TOKEN and "Authorization" not in seen.headers
    assert fake.updates[0].paths == ["/data/TV/Show"]


@pytest.mark.parametrize("configured", ["", "/emby", "/emby/"])
def test_emby_works_with_or_without_the_emby_prefix(connect, configured):
    with FakeJellyfin("emby", token=TOKEN, libraries=LIBRARIES, base_path="/emby") as fake:
        emby = connect("emby", fake.root_url + configured)
        assert emby.check().ok
        emby.scan(["/data/Movies/Heat (1995)"])
        assert len(fake.wait_for_updates(1)) == 1
    prefixed = [s.path.startswith("/emby/") for s in fake.seen]
    if configured:
        assert all(prefixed)
    else:
        # One 404 at the root, then the prefix is remembered: no 404 per call.
        assert prefixed == [False, True, True, True]


def test_jellyfin_keeps_a_configured_base_path(connect):
    with FakeJellyfin("jellyfin", token=TOKEN, base_path="/jellyfin") as fake:
        assert connect("jellyfin", fake.url).check().ok
        missing = connect("jellyfin", fake.root_url).check()
    assert not missing.ok and "HTTP 404" in missing.detail and "base path" in missing.detail
    assert not any(s.path.startswith("/emby") for s in fake.seen)


# ---- scan ----------------------------------------------------------------------------------------


def test_partial_scan_sends_every_folder_in_one_request(server, fake, flavour):
    folders = ["/data/Movies/Heat (1995)", "/data/TV/Show/Season 01", "/mnt/more/Movies/Alien"]
    result = server.scan(folders)
    assert result.ok and not result.deferred
    [update] = fake.wait_for_updates(1)
    assert update.updates == [(f, "Created") for f in folders]
    assert update.headers["Content-Type"] == "application/json"
    assert "reported 3 folders created" in result.detail
    if flavour == "jellyfin":
        assert "LibraryMonitorDelay" in result.detail
    assert [s.path for s in fake.seen] == ["/Library/Media/Updated", "/Library/VirtualFolders"]


def test_removed_folders_are_reported_deleted(server, fake):
    assert server.scan(["/data/TV/Gone"], removed=True).ok
    assert fake.wait_for_updates(1)[0].updates == [("/data/TV/Gone", "Deleted")]


def test_full_mode_refreshes_the_libraries(connect, fake, flavour):
    result = connect(flavour, fake.url, mode="full").scan(["/data/Movies/Heat (1995)"])
    assert result.ok and "full mode" in result.detail
    assert len(fake.refreshes) == 1 and fake.updates == []


def test_full_mode_needs_an_admin_token(connect, fake, flavour):
    with pytest.raises(MediaServerError, match="HTTP 403"):
        connect(flavour, fake.url, mode="full", token=USER_TOKEN).scan(["/data/Movies/X"])


def test_nothing_to_scan_sends_nothing(server, fake):
    assert server.scan([]).ok
    assert fake.seen == []


def test_a_user_token_can_still_report_folders(connect, fake, flavour):
    result = connect(flavour, fake.url, token=USER_TOKEN).scan(["/data/Movies/Heat (1995)"])
    assert result.ok and fake.wait_for_updates(1)[0].paths == ["/data/Movies/Heat (1995)"]


def test_folders_outside_every_library_are_sent_and_logged_once(server, fake, caplog):
    caplog.set_level(logging.WARNING, logger="putbridge.mediaservers")
    result = server.scan(["/data/Movies/Heat (1995)", "/downloads/Heat (1995)"])
    assert "1 in no library" in result.detail
    assert fake.wait_for_updates(1)[0].paths[1] == "/downloads/Heat (1995)"
    server.scan(["/downloads/Heat (1995)"])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "'/downloads/Heat (1995)'" in warnings[0]
    # Library roots are cached between scans: two scans, one listing.
    listings = [s for s in fake.seen if s.path == "/Library/VirtualFolders"]
    assert len(listings) == 1 and len(fake.updates) == 2


def test_folders_in_libraries_not_configured_are_skipped(connect, fake, flavour):
    jf = connect(flavour, fake.url, libraries=["Movies"])
    result = jf.scan(["/data/Movies/Heat (1995)", "/data/TV/Show", "/elsewhere/X"])
    assert result.ok and "skipped 1 folder in libraries not configured" in result.detail
    assert fake.wait_for_updates(1)[0].paths == ["/data/Movies/Heat (1995)", "/elsewhere/X"]
    only_tv = jf.scan(["/data/TV/Show"])
    assert only_tv.ok and only_tv.detail.startswith("nothing to scan")
    assert len(fake.updates) == 1


@pytest.mark.parametrize(
    "fault, message",
    [("fail", "HTTP 500"), ("token", "HTTP 401"), ("slow", "no answer within 0.3 s")],
)
def test_scan_failures_raise_one_line_errors_without_the_token(
    connect, fake, flavour, fault, message, caplog
):
    caplog.set_level(logging.DEBUG)
    settings = {"timeout": 0.3}
    if fault == "fail":
        fake.fail = True
    elif fault == "slow":
        fake.slow = 5.0
    else:
        settings["token"] = "not-the-token-4242"
    jf = connect(flavour, fake.url, **settings)
    with pytest.raises(MediaServerError) as caught:
        jf.scan(["/data/Movies/Heat (1995)"])
    text = str(caught.value)
    assert message in text and "\n" not in text
    assert TOKEN not in text and "not-the-token-4242" not in text
    assert TOKEN not in caplog.text and "[REDACTED]" not in caplog.text
    assert fake.updates == []


def test_scan_of_a_server_that_went_down_raises_and_works_once_it_is_back(server, fake):
    fake.go_down()
    with pytest.raises(MediaServerError, match="unreachable: Connection refused"):
        server.scan(["/data/Movies/Heat (1995)"])
    fake.come_up()
    assert server.scan(["/data/Movies/Heat (1995)"]).ok
    assert len(fake.wait_for_updates(1)) == 1


HOSTILE = [
    '/data/Movies/"Quoted" Movie (2001)',
    "/data/Movies/It's \\ back\\slash",
    unicodedata.normalize("NFC", "/data/Movies/Café Society (2016)"),
    unicodedata.normalize("NFD", "/data/Movies/Café Society (2016)"),
    "/data/Movies/東京物語 (1953)",
    "/data/Movies/emoji 🎬 {braces} [brackets] %20 & ? #",
    "/data/Movies/line\nbreak\ttab",
    "/data/Movies/ leading and trailing spaces ",
    '/data/Movies/</Updates>,{"Path":"/etc"}',
]


def test_hostile_folder_names_arrive_exactly(server, fake):
    assert server.scan(HOSTILE).ok
    [update] = fake.wait_for_updates(1)
    assert update.paths == HOSTILE


def test_concurrent_scans_are_all_recorded(connect, fake, flavour):
    servers = [connect(flavour, fake.url) for _ in range(6)]
    outcomes: dict[int, object] = {}

    def scan(i: int) -> None:
        try:
            outcomes[i] = servers[i].scan([f"/data/TV/Show {i}"]).ok
        except MediaServerError as err:  # reported below, not lost in the thread
            outcomes[i] = err

    threads = [threading.Thread(target=scan, args=(i,), name=f"scan-{i}") for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == {i: True for i in range(6)}
    updates = fake.wait_for_updates(6)
    assert sorted(u.paths[0] for u in updates) == [f"/data/TV/Show {i}" for i in range(6)]


# ---- locate --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "folder, expected",
    [
        ("/data/Movies/Heat (1995)", "library 'Movies' (/data/Movies)"),
        ("/mnt/more/Movies/Alien", "library 'Movies' (/mnt/more/Movies)"),
        ("/data/TV/Show/Season 01", "library 'TV' (/data/TV)"),
        ("/data/TV/Kids/Bluey", "library 'TV Kids' (/data/TV/Kids)"),  # longest wins
        ("/data/TV/Kidsville", "library 'TV' (/data/TV)"),  # not a component of /data/TV/Kids
        ("/data/TV2/Frieren", "library 'Anime' (/data/TV2)"),  # /data/TV2 is not under /data/TV
        ("/data/TV", "library 'TV' (/data/TV)"),
        ("/data/TV/", "library 'TV' (/data/TV)"),
        ("/data/TVshows/X", "no library contains it"),
        ("/data", "no library contains it"),
        ("/downloads/x", "no library contains it"),
    ],
)
def test_locate_finds_the_library_by_whole_components(server, folder, expected):
    assert server.locate(folder) == expected


def test_locate_says_when_the_library_is_not_configured(connect, fake, flavour):
    jf = connect(flavour, fake.url, libraries=["Movies"])
    assert jf.locate("/data/TV/Show") == (
        "library 'TV' (/data/TV), which is not among the configured libraries"
    )
    assert jf.locate("/data/Movies/X") == "library 'Movies' (/data/Movies)"


def test_locate_handles_a_windows_server(connect, flavour):
    libraries = [virtual_folder("Films", "D:\\Media\\Films"), virtual_folder("All", "D:\\")]
    with FakeJellyfin(flavour, token=TOKEN, libraries=libraries) as fake:
        jf = connect(flavour, fake.url)
        assert jf.locate("D:\\Media\\Films\\Heat (1995)") == "library 'Films' (D:\\Media\\Films)"
        assert jf.locate("D:\\Media\\Films2") == "library 'All' (D:\\)"
        assert jf.locate("E:\\Films") == "no library contains it"


def test_locate_raises_when_the_server_is_down(connect, flavour):
    with pytest.raises(MediaServerError, match="unreachable"):
        connect(flavour, f"http://127.0.0.1:{free_port()}").locate("/data/Movies/X")


def test_locate_of_malformed_libraries_skips_what_it_cannot_read(connect, flavour):
    libraries = [
        {"Name": "Broken", "Locations": "not a list"},
        "not an object",
        {"Name": "Movies", "Locations": [None, 7, "/data/Movies"]},
    ]
    with FakeJellyfin(flavour, token=TOKEN, libraries=libraries) as fake:
        jf = connect(flavour, fake.url)
        assert jf.locate("/data/Movies/X") == "library 'Movies' (/data/Movies)"
        assert jf.check().roots == ["/data/Movies"]


# ---- the fake itself -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, status",
    [
        ({"Updates": [{"UpdateType": "Created"}]}, 400),
        ({"Updates": [{"Path": "", "UpdateType": "Created"}]}, 400),
        ({"Updates": [{"Path": "/x", "UpdateType": "Renamed"}]}, 400),
        ({"Updates": {"Path": "/x"}}, 400),
        ([{"Path": "/x"}], 400),
        ({"Updates": [{"Path": "/x"}]}, 204),
    ],
)
def test_the_fake_checks_the_body_shape(body, status):
    with FakeJellyfin("jellyfin", token=TOKEN) as fake:
        answer = requests.post(
            f"{fake.url}/Library/Media/Updated",
            json=body,
            headers={"Authorization": f'MediaBrowser Token="{TOKEN}"'},
            timeout=5,
        )
        form = requests.post(
            f"{fake.url}/Library/Media/Updated",
            data={"Path": "/x"},
            headers={"Authorization": f'MediaBrowser Token="{TOKEN}"'},
            timeout=5,
        )
    assert answer.status_code == status
    assert form.status_code == 415
    assert len(fake.updates) == (1 if status == 204 else 0)
