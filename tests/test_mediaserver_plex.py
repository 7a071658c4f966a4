"""PlexServer through the real plexapi against a fake PMS over HTTP: check, locate, partial
scans with the right path query, the library-wide fallback, the libraries filter, deferral while
a section refreshes, and a server that is down, refuses the token or answers garbage."""

from __future__ import annotations

import logging
import socket

import pytest

from putbridge.config import MediaServerSettings
from putbridge.errors import MediaServerError
from putbridge.mediaservers.plex import PlexServer
from tests.fake_plex import VERSION, FakePlex, FakeSection

TOKEN = "plex-token-9Qx7Zb2Lm4"
DOCS = "/data/Docs & \"Talks\" 'n' <more>"


def default_sections() -> list[FakeSection]:
    return [
        FakeSection("1", "Movies", "movie", ["/data/Movies"]),
        FakeSection("2", "TV Shows", "show", ["/data/TV", "/mnt/more tv/"]),
        FakeSection("3", "Kids Movies", "movie", ["/data/Movies/Kids"]),
        FakeSection("4", "Music", "artist", ["/data/Music"]),
        FakeSection("5", "Documentaries", "movie", [DOCS]),
    ]


@pytest.fixture
def fake():
    with FakePlex(TOKEN, default_sections(), friendly_name="Home Plex") as server:
        yield server


@pytest.fixture
def connect(fake):
    made: list[PlexServer] = []

    def connect(url: str | None = None, token: str = TOKEN, **fields) -> PlexServer:
        settings = MediaServerSettings(kind="plex", url=url or fake.url, token=token, **fields)
        server = PlexServer(settings)
        made.append(server)
        return server

    yield connect
    for server in made:
        server.close()


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)  # urllib3's request lines too
    caplog.set_level(logging.DEBUG, logger="plexapi")  # plexapi sets its own level (INFO)
    yield caplog
    records = caplog.get_records("setup") + caplog.get_records("call")
    assert any(r.name == "plexapi" for r in records)  # its request lines were seen
    for record in records:
        assert TOKEN not in record.getMessage(), record.getMessage()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def partials(fake: FakePlex) -> list[tuple[str, str | None]]:
    return [(r.section, r.path) for r in fake.refreshes]


# -- check ---------------------------------------------------------------------------------------


def test_check_reports_name_version_sections_and_every_root(fake, connect, logs):
    result = connect().check()
    assert result.ok, result.detail
    assert result.detail == f"Plex 'Home Plex' {VERSION}: 5 sections"
    assert result.roots == [
        "/data/Movies", "/data/TV", "/mnt/more tv/", "/data/Movies/Kids", "/data/Music", DOCS,
    ]  # fmt: skip
    # plexapi sent the token as a header on every request, never in the query
    assert {token for _, _, token in fake.requests} == {TOKEN}
    assert fake.count("GET", "/") == 1 and fake.count("GET", "/library/sections") == 1


def test_check_with_a_wrong_token_says_unauthorised_without_the_token(fake, connect, logs):
    wrong = "wrong-token-Hh3k"
    result = connect(token=wrong).check()
    assert not result.ok
    assert "unauthori" in result.detail.lower() and "401" in result.detail
    assert wrong not in result.detail and TOKEN not in result.detail
    assert result.roots == []
    assert all(wrong not in r.getMessage() for r in logs.records)


def test_check_when_the_server_is_down(connect, logs):
    url = f"http://127.0.0.1:{free_port()}"
    result = connect(url=url).check()
    assert not result.ok
    assert "connection refused" in result.detail and url in result.detail


def test_check_libraries_filter_limits_roots_and_flags_unknown_titles(connect):
    result = connect(libraries=["tv shows ", "Music"]).check()
    assert result.ok, result.detail
    assert result.roots == ["/data/TV", "/mnt/more tv/", "/data/Music"]
    assert "2 of them in libraries" in result.detail
    bad = connect(libraries=["Movies", "Anime"]).check()
    assert not bad.ok and "no section named 'Anime'" in bad.detail


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("500", "HTTP 500"),
        ("520", "unexpected HTTP answer"),
        ("garbage", "not valid XML"),
        ("not-plex", "not a Plex server"),
    ],
)
def test_check_when_the_server_misbehaves(fake, connect, fault, words):
    fake.fault = fault
    result = connect().check()
    assert not result.ok and words in result.detail and "(connecting)" in result.detail


def test_garbage_section_list_is_an_error_then_recovers(fake, connect):
    server = connect()
    assert server.check().ok
    fake.fault, fake.fault_path = "garbage", "/library/sections"
    with pytest.raises(MediaServerError, match="not valid XML"):
        server.scan(["/data/Movies/Heat (1995)"])
    fake.fault = None
    assert server.scan(["/data/Movies/Heat (1995)"]).ok
    assert fake.count("GET", "/") == 2  # the error dropped the connection; it reconnected


def test_timeout_is_an_error_naming_the_limit(fake, connect):
    fake.fault, fake.fault_path = "slow", "/library/sections"
    with pytest.raises(MediaServerError, match=r"no answer within 0\.3 s \(listing sections\)"):
        connect(timeout=0.3).scan(["/data/Movies/Heat (1995)"])


# -- locate --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("folder", "answer"),
    [
        ("/data/Movies/Heat (1995)", "section 'Movies' (movie), location /data/Movies"),
        ("/data/Movies", "section 'Movies' (movie), location /data/Movies"),
        (
            "/data/Movies/Kids/Up (2009)/",
            "section 'Kids Movies' (movie), location /data/Movies/Kids",
        ),
        ("/mnt/more tv/Show/Season 01", "section 'TV Shows' (show), location /mnt/more tv/"),
        (f"{DOCS}/Cosmos", f"section 'Documentaries' (movie), location {DOCS}"),
        ("/data/Movies2/Heat (1995)", "no Plex section contains it"),
        ("/data/Movie", "no Plex section contains it"),
        ("/data", "above the library roots"),
    ],
)
def test_locate(connect, folder, answer):
    assert connect().locate(folder).startswith(answer)


def test_locate_marks_sections_outside_the_filter(connect):
    answer = connect(libraries=["Movies"]).locate("/data/Movies/Kids/Up (2009)")
    assert answer.endswith("(not in libraries: never scanned)")


def test_locate_and_scan_on_a_windows_plex(connect):
    with FakePlex(TOKEN, [FakeSection("7", "Films", "movie", ["D:\\Media\\Films"])]) as win:
        server = connect(url=win.url, path_map={"/srv/films": "d:/media/films"})
        folder = server.map_path("/srv/films/Heat (1995)")
        assert server.locate(folder) == "section 'Films' (movie), location D:\\Media\\Films"
        assert server.locate("D:\\Media\\Films2\\X").startswith("no Plex section")
        result = server.scan([folder])
        assert [(r.section, r.path) for r in win.refreshes] == [
            ("7", "D:\\Media\\Films\\Heat (1995)")
        ]
        assert result.detail == "section 'Films' partial scan of D:\\Media\\Films\\Heat (1995)"
        server.close()  # before the fake stops: its keep-alive connection holds a server thread


# -- scan ----------------------------------------------------------------------------------------


def test_partial_scans_carry_hostile_folder_names_intact(fake, connect, logs):
    folders = [
        "/data/Movies/Amélie (2001)",
        '/data/Movies/Tom & Jerry\'s "Big" Day (1992)',
        "/data/Movies/100% + 50% = ?#1 (2020)",
        "/data/Movies/Amélie (2001)",  # twice: one request
        "/data/TV/Shōgun (2024)/Season 01",
        f"{DOCS}/Cosmos",
    ]
    result = connect().scan(folders)
    assert result.ok and not result.deferred
    assert partials(fake) == [
        ("1", "/data/Movies/Amélie (2001)"),
        ("1", '/data/Movies/Tom & Jerry\'s "Big" Day (1992)'),
        ("1", "/data/Movies/100% + 50% = ?#1 (2020)"),
        ("2", "/data/TV/Shōgun (2024)/Season 01"),
        ("5", f"{DOCS}/Cosmos"),
    ]
    assert all(r.method == "GET" and not r.force for r in fake.refreshes)
    assert "section 'Movies' partial scan of /data/Movies/Amélie (2001), " in result.detail
    assert "section 'TV Shows' partial scan of /data/TV/Shōgun (2024)/Season 01" in result.detail
    assert {token for _, _, token in fake.requests} == {TOKEN}


def test_nested_location_wins_and_many_folders_are_counted(fake, connect):
    folders = [f"/data/Movies/Kids/Film {n} (2000)" for n in range(5)]
    result = connect().scan(folders)
    assert [r.section for r in fake.refreshes] == ["3"] * 5
    assert result.detail == "section 'Kids Movies' partial scan of 5 folders"


def test_a_folder_above_the_roots_scans_the_locations_below_it(fake, connect):
    connect().scan(["/data"])
    assert sorted(partials(fake)) == [
        ("1", "/data/Movies"), ("2", "/data/TV"), ("3", "/data/Movies/Kids"), ("4", "/data/Music"),
        ("5", DOCS),
    ]  # fmt: skip


def test_a_folder_in_no_section_updates_the_whole_library(fake, connect, logs):
    result = connect().scan(["/data/Movies2/Heat (1995)", "/data/Movies/Heat (1995)"])
    assert partials(fake) == [("1", "/data/Movies/Heat (1995)"), ("all", None)]
    assert "/data/Movies2/Heat (1995) in no Plex section: library-wide update" in result.detail
    warnings = [r for r in logs.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "/data/Movies2/Heat (1995)" in warnings[0].getMessage()


def test_libraries_filter_never_scans_unlisted_sections(fake, connect):
    server = connect(libraries=["TV Shows"])
    result = server.scan(["/data/Movies/Heat (1995)", "/data/TV/Lost", "/elsewhere/X"])
    assert partials(fake) == [("2", "/data/TV/Lost"), ("2", None)]  # not "all"
    assert "/data/Movies/Heat (1995) is only in sections not in libraries: skipped" in result.detail
    assert "/elsewhere/X in no Plex section: full scan of 'TV Shows'" in result.detail
    fake.refreshes.clear()
    result = connect(libraries=["Nothing"]).scan(["/elsewhere/X"])
    assert fake.refreshes == [] and "no listed section exists: skipped" in result.detail


def test_a_refreshing_section_is_deferred_then_scanned_once_clear(fake, connect):
    server = connect()
    fake.set_refreshing("1")
    result = server.scan(["/data/Movies/Heat (1995)", "/data/TV/Lost"])
    assert result.ok and result.deferred
    assert partials(fake) == [("2", "/data/TV/Lost")]  # nothing sent to the busy section
    assert "section 'Movies' is refreshing: /data/Movies/Heat (1995) deferred" in result.detail
    fake.set_refreshing("1", False)
    result = server.scan(["/data/Movies/Heat (1995)", "/data/Movies/Ronin (1998)"])
    assert not result.deferred
    assert partials(fake)[1:] == [
        ("1", "/data/Movies/Heat (1995)"), ("1", "/data/Movies/Ronin (1998)"),
    ]  # fmt: skip
    assert fake.count("GET", "/") == 1  # one connection; sections re-read on every call


def test_server_error_on_refresh_raises_and_the_next_call_reconnects(fake, connect, logs):
    server = connect()
    fake.fault, fake.fault_path = "500", "/library/sections/1/refresh"
    with pytest.raises(MediaServerError) as caught:
        server.scan(["/data/Movies/Heat (1995)"])
    assert str(caught.value) == (f"Plex at {fake.url}: HTTP 500 (partial scan of section 'Movies')")
    fake.fault = None
    assert server.scan(["/data/Movies/Heat (1995)"]).ok
    assert fake.count("GET", "/") == 2
    assert [r.path for r in fake.refreshes_of("1")] == ["/data/Movies/Heat (1995)"]


def test_scan_errors_when_down_or_unauthorised(fake, connect):
    with pytest.raises(MediaServerError, match="connection refused"):
        connect(url=f"http://127.0.0.1:{free_port()}", name="den").scan(["/data/Movies/X"])
    with pytest.raises(MediaServerError, match=r"^Plex 'den' at .*: unauthorised") as caught:
        connect(token="nope-123", name="den").scan(["/data/Movies/X"])
    assert "nope-123" not in str(caught.value)
    assert fake.refreshes == []


def test_path_map_feeds_scan(fake, connect):
    server = connect(path_map={"/srv/library": "/data", "/srv/library/tv": "/mnt/more tv"})
    folders = [
        server.map_path("/srv/library/Movies/Heat (1995)"),
        server.map_path("/srv/library/tv/Lost"),
    ]
    assert folders == ["/data/Movies/Heat (1995)", "/mnt/more tv/Lost"]
    server.scan(folders)
    assert partials(fake) == [("1", "/data/Movies/Heat (1995)"), ("2", "/mnt/more tv/Lost")]


def test_fake_accepts_the_token_as_a_query_parameter_like_curl(fake):
    import requests

    with requests.Session() as http:
        assert http.get(f"{fake.url}/library/sections", timeout=5).status_code == 401
        answer = http.get(
            f"{fake.url}/library/sections/2/refresh", params={"X-Plex-Token": TOKEN}, timeout=5
        )
        assert answer.status_code == 200 and answer.content == b""
        assert (
            http.delete(
                f"{fake.url}/library/sections/9/refresh", params={"X-Plex-Token": TOKEN}, timeout=5
            ).status_code
            == 404
        )
    assert [(r.section, r.method) for r in fake.refreshes] == [("2", "GET")]


def test_scanning_nothing_sends_nothing(fake, connect):
    assert connect().scan([]).detail == "nothing to scan"
    assert fake.requests == []
