"""The scan notifier: which folders, debounced batches per server, kept in SQLite across
restarts, retried when a server is down, and the transfer marked scanned when all are done."""

from __future__ import annotations

import time

import pytest

from putbridge.config import MediaServerSettings
from putbridge.errors import MediaServerError
from putbridge.intake.sources import parse_link
from putbridge.mediaservers import MediaServer, ScanResult
from putbridge.mediaservers.notifier import (
    ScanNotifier,
    last_scan_results,
    pending_scans,
    scan_folders,
)
from putbridge.store import Store
from putbridge.transfers import TransferLedger

ROOTS = ["/lib/Movies", "/lib/TV"]


class FakeServer(MediaServer):
    kind = "fake"

    def __init__(self, name="fake", path_map=None):
        super().__init__(
            MediaServerSettings(kind="kodi", url="http://x", name=name, path_map=path_map or {})
        )
        self.scans: list[tuple[list[str], bool]] = []
        self.errors: list[Exception] = []
        self.defer = 0

    def check(self):
        raise NotImplementedError

    def locate(self, folder):
        raise NotImplementedError

    def scan(self, folders, *, removed=False):
        if self.errors:
            raise self.errors.pop(0)
        if self.defer:
            self.defer -= 1
            return ScanResult(ok=True, detail="busy", deferred=True)
        self.scans.append((list(folders), removed))
        return ScanResult(ok=True, detail=f"scanned {len(folders)}")


class Clock:
    def __init__(self):
        self.t = 1_000_000.0

    def __call__(self):
        return self.t


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "s.db") as store:
        yield store


def test_scan_folders_picks_the_movie_or_show_folder():
    paths = [
        "/lib/Movies/Heat (1995)/Heat (1995).strm",
        "/lib/Movies/Heat (1995)/Heat (1995).nfo",
        "/lib/TV/Show/Season 01/Show - S01E01.strm",
        "/lib/TV/Show/Season 02/Show - S02E01.strm",
        "/lib/TV/Show/tvshow.nfo",
        "/lib/Movies/loose.strm",
        "/elsewhere/x/y.strm",
    ]
    assert scan_folders(paths, ROOTS) == [
        "/elsewhere/x",
        "/lib/Movies",  # a file right in the root: the root itself (and Heat inside it goes)
        "/lib/TV/Show",
    ]
    assert scan_folders(["/lib/Movies/A (2000)/a.strm", "/lib/Movies/B (2001)/b.strm"], ROOTS) == [
        "/lib/Movies/A (2000)",
        "/lib/Movies/B (2001)",
    ]
    assert scan_folders([], ROOTS) == []
    # A root's name being a prefix of another folder's does not make it its root.
    assert scan_folders(["/lib/Movies2/C/c.strm"], ROOTS) == ["/lib/Movies2/C"]


def test_a_burst_is_one_batch_after_the_debounce(store):
    clock, server = Clock(), FakeServer()
    notifier = ScanNotifier([server], store, roots=ROOTS, debounce=5, now=clock)
    notifier.notify([f"/lib/Movies/M{n} (2000)/M{n} (2000).strm" for n in range(30)])
    clock.t += 2
    notifier.notify(["/lib/Movies/M0 (2000)/M0 (2000).nfo", "/lib/TV/S/Season 01/e.strm"])
    assert notifier.send_due() == pytest.approx(3, abs=0.01)
    assert server.scans == []
    clock.t += 3
    notifier.send_due()
    ((folders, removed),) = server.scans
    assert len(folders) == 31 and "/lib/TV/S" in folders and not removed
    assert pending_scans(store) == {}
    assert last_scan_results(store)["fake"][1:] == (True, "scanned 31")


def test_each_server_gets_its_mapped_folders(store):
    clock = Clock()
    plain, mapped = FakeServer("a"), FakeServer("b", {"/lib": "/data/media"})
    notifier = ScanNotifier([plain, mapped], store, roots=ROOTS, debounce=1, now=clock)
    notifier.notify(["/lib/TV/Show/Season 01/e.strm"], removed=True)
    clock.t += 1
    notifier.send_due()
    assert plain.scans == [(["/lib/TV/Show"], True)]
    assert mapped.scans == [(["/data/media/TV/Show"], True)]


def test_a_server_that_is_down_is_retried_with_backoff_and_nothing_is_lost(store):
    clock, server = Clock(), FakeServer()
    server.errors = [MediaServerError("connection refused"), MediaServerError("still down")]
    notifier = ScanNotifier([server], store, roots=ROOTS, debounce=1, now=clock)
    notifier.notify(["/lib/Movies/A (2000)/a.strm"])
    clock.t += 1
    wait = notifier.send_due()
    assert 2 <= wait <= 5.01 and server.scans == []
    assert last_scan_results(store)["fake"][1:] == (False, "connection refused")
    clock.t += wait
    wait2 = notifier.send_due()
    assert 5 <= wait2 <= 10.01  # the second wait is drawn from a doubled range
    clock.t += wait2
    notifier.send_due()
    assert server.scans == [(["/lib/Movies/A (2000)"], False)]
    assert pending_scans(store) == {}


def test_a_busy_server_is_asked_again_later(store):
    clock, server = Clock(), FakeServer()
    server.defer = 1
    notifier = ScanNotifier([server], store, roots=ROOTS, debounce=2, now=clock)
    notifier.notify(["/lib/Movies/A (2000)/a.strm"])
    clock.t += 2
    notifier.send_due()
    assert server.scans == [] and pending_scans(store) == {"fake": 1}
    notifier.notify(["/lib/Movies/B (2000)/b.strm"])  # gathered while it was busy
    clock.t += 2
    notifier.send_due()
    assert server.scans == [(["/lib/Movies/A (2000)", "/lib/Movies/B (2000)"], False)]


def test_pending_scans_survive_a_restart(tmp_path):
    clock = Clock()
    with Store(tmp_path / "s.db") as store:
        ScanNotifier([FakeServer()], store, roots=ROOTS, now=clock).notify(
            ["/lib/Movies/A (2000)/a.strm"]
        )
    server = FakeServer()
    with Store(tmp_path / "s.db") as store:
        notifier = ScanNotifier([server], store, roots=ROOTS, debounce=5, now=clock)
        assert notifier.pending() == {"fake": 1}
        clock.t += 5
        notifier.send_due()
    assert server.scans == [(["/lib/Movies/A (2000)"], False)]


def test_a_transfer_is_scanned_once_every_server_has_rescanned_it(store):
    clock = Clock()
    ledger = TransferLedger(store)
    record, _ = ledger.receive(
        parse_link("magnet:?xt=urn:btih:" + "a" * 40), target="/", origin="t"
    )
    for state in ("submitted", "completed", "in_library"):
        ledger.transition(record.id, state)
    a, b = FakeServer("a"), FakeServer("b")
    b.errors = [MediaServerError("down")]
    notifier = ScanNotifier([a, b], store, roots=ROOTS, ledger=ledger, debounce=1, now=clock)
    notifier.notify(["/lib/Movies/A (2000)/a.strm"], transfer_id=record.id)
    clock.t += 1
    notifier.send_due()
    assert a.scans and ledger.get(record.id).state == "in_library"  # b has not scanned yet
    clock.t += 3600
    notifier.send_due()
    assert ledger.get(record.id).state == "scanned"
    assert ledger.history(record.id)[-1][2] == "rescanned by b"


def test_no_servers_means_nothing_queued(store):
    notifier = ScanNotifier([], store, roots=ROOTS)
    assert notifier.notify(["/lib/Movies/A (2000)/a.strm"]) == ["/lib/Movies/A (2000)"]
    assert notifier.pending() == {}
    notifier.start()
    assert not notifier.is_alive()


def test_the_thread_sends_after_the_debounce_and_stops(store):
    server = FakeServer()
    notifier = ScanNotifier([server], store, roots=ROOTS, debounce=0.1)
    notifier.start()
    try:
        started = time.monotonic()
        notifier.notify(["/lib/Movies/A (2000)/a.strm"])
        deadline = time.monotonic() + 5
        while not server.scans and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.scans and time.monotonic() - started >= 0.1
    finally:
        notifier.stop()
    assert not notifier.is_alive()


def test_two_servers_with_one_name_are_refused(store):
    from putbridge.errors import PutbridgeError

    with pytest.raises(PutbridgeError, match="give each a name"):
        ScanNotifier([FakeServer(), FakeServer()], store)


def test_only_the_folders_a_busy_section_holds_wait(store):
    clock = Clock()

    class HalfBusy(FakeServer):
        def scan(self, folders, *, removed=False):
            self.scans.append((list(folders), removed))
            busy = [f for f in folders if "/TV/" in f]
            return ScanResult(ok=True, detail="tv busy", deferred=bool(busy), pending=busy)

    server = HalfBusy()
    notifier = ScanNotifier([server], store, roots=ROOTS, debounce=2, now=clock)
    notifier.notify(["/lib/Movies/A (2000)/a.strm", "/lib/TV/S/Season 01/e.strm"])
    clock.t += 2
    notifier.send_due()
    assert pending_scans(store) == {"fake": 1}  # the movie went; the show waits
    clock.t += 2
    notifier.send_due()
    assert server.scans[-1] == (["/lib/TV/S"], False)


def test_scan_folders_by_layout_and_for_relative_paths(tmp_path, monkeypatch):
    roots = [("/m/mirror", "mirror"), ("/m/movies", "movies"), ("/m/tv", "shows")]
    assert scan_folders(
        [
            "/m/mirror/Movies/Some.Film.2020/film.strm",  # the torrent's folder, not /Movies
            "/m/mirror/loose.strm",
            "/m/movies/_unsorted/odd/x.strm",  # not every unsorted video
            "/m/tv/Show/Season 01/e.strm",
        ],
        roots,
    ) == ["/m/mirror", "/m/movies/_unsorted/odd", "/m/tv/Show"]
    monkeypatch.chdir(tmp_path)
    assert scan_folders(["tv/Show/Season 01/e.strm"], [("tv", "shows")]) == [
        str(tmp_path / "tv" / "Show")
    ]


def test_a_slow_server_does_not_hold_up_another(store):
    import threading

    class Slow(FakeServer):
        def scan(self, folders, *, removed=False):
            release.wait(5)
            return super().scan(folders, removed=removed)

    release = threading.Event()
    slow, quick = Slow("slow"), FakeServer("quick")
    notifier = ScanNotifier([slow, quick], store, roots=ROOTS, debounce=0.05)
    notifier.start()
    try:
        notifier.notify(["/lib/Movies/A (2000)/a.strm"])
        deadline = time.monotonic() + 3
        while not quick.scans and time.monotonic() < deadline:
            time.sleep(0.01)
        assert quick.scans and not slow.scans
    finally:
        release.set()
        notifier.stop()
    assert not notifier.running()


def test_rows_of_a_server_no_longer_configured_are_dropped(store):
    clock = Clock()
    ledger = TransferLedger(store)
    record, _ = ledger.receive(
        parse_link("magnet:?xt=urn:btih:" + "b" * 40), target="/", origin="t"
    )
    for state in ("submitted", "completed", "in_library"):
        ledger.transition(record.id, state)
    old = ScanNotifier([FakeServer("old"), FakeServer("new")], store, roots=ROOTS, now=clock)
    old.notify(["/lib/Movies/A (2000)/a.strm"], transfer_id=record.id)
    new = FakeServer("new")
    notifier = ScanNotifier([new], store, roots=ROOTS, ledger=ledger, debounce=1, now=clock)
    assert pending_scans(store) == {"new": 1}
    clock.t += 1
    notifier.send_due()
    assert new.scans and ledger.get(record.id).state == "scanned"


def test_a_folder_queued_again_during_its_scan_is_scanned_again(store):
    clock = Clock()

    class Requeues(FakeServer):
        def scan(self, folders, *, removed=False):
            if not self.scans:  # the file changes again while the server is being asked
                notifier.notify(["/lib/Movies/A (2000)/a.nfo"], removed=True)
            return super().scan(folders, removed=removed)

    server = Requeues()
    notifier = ScanNotifier([server], store, roots=ROOTS, debounce=1, now=clock)
    notifier.notify(["/lib/Movies/A (2000)/a.strm"])
    clock.t += 1
    notifier.send_due()
    assert pending_scans(store) == {"fake": 1}
    clock.t += 1
    notifier.send_due()
    assert server.scans == [(["/lib/Movies/A (2000)"], False), (["/lib/Movies/A (2000)"], True)]


def test_a_server_down_for_days_keeps_its_backoff_bounded(store):
    clock, server = Clock(), FakeServer()
    notifier = ScanNotifier([server], store, roots=ROOTS, debounce=1, now=clock)
    notifier.notify(["/lib/Movies/A (2000)/a.strm"])
    with store.write() as conn:
        conn.execute("UPDATE scan_queue SET attempts = 5000")
    server.errors = [MediaServerError("down")]
    clock.t += 1
    assert notifier.send_due() <= 600.01  # RETRY_MAX, no overflow


def test_an_unexpected_error_is_retried_like_a_refusal(store, caplog):
    clock, server = Clock(), FakeServer()
    server.errors = [ValueError("a bug in a server class")]
    notifier = ScanNotifier([server], store, roots=ROOTS, debounce=1, now=clock)
    notifier.notify(["/lib/Movies/A (2000)/a.strm"])
    clock.t += 1
    assert notifier.send_due() > 1 and pending_scans(store) == {"fake": 1}
    assert "scan failed unexpectedly" in caplog.text


def test_transfers_in_the_library_but_never_queued_are_queued_at_start(store):
    ledger = TransferLedger(store)
    record, _ = ledger.receive(
        parse_link("magnet:?xt=urn:btih:" + "c" * 40), target="/", origin="t"
    )
    for state in ("submitted", "completed"):
        ledger.transition(record.id, state)
    ledger.transition(record.id, "in_library", library_paths=["/lib/Movies/C (2003)/c.strm"])
    notifier = ScanNotifier([FakeServer()], store, roots=ROOTS, ledger=ledger)
    assert notifier.renotify() == 1 and pending_scans(store) == {"fake": 1}
    assert notifier.renotify() == 0


def test_a_folder_is_never_asked_twice_within_one_debounce_window(store):
    clock = Clock()

    class Slow(FakeServer):
        def scan(self, folders, *, removed=False):
            clock.t += 2  # a long batch (a Plex of many folders)
            if len(self.scans) == 0:
                notifier.notify(["/lib/TV/S/Season 02/e2.strm"])  # arrives during it
            return super().scan(folders, removed=removed)

    server = Slow()
    notifier = ScanNotifier([server], store, roots=ROOTS, debounce=5, now=clock)
    notifier.notify(["/lib/TV/S/Season 01/e1.strm"])
    clock.t += 5
    notifier.send_due()
    first_done = clock.t
    clock.t += 3.5  # 5 s after the second notify, but not 5 s after the last batch ended
    notifier.send_due()
    assert len(server.scans) == 1
    clock.t = first_done + 5
    notifier.send_due()
    assert len(server.scans) == 2
