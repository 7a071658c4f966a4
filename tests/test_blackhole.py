"""Blackhole watcher: real folders, real watchdog observers, a fake submit that records calls."""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from pathlib import Path

import pytest
from watchdog.observers.polling import PollingObserver

from putbridge.config import BlackholeSettings
from putbridge.errors import (
    AuthError,
    ConfigError,
    IntakeError,
    NotFound,
    PutioError,
    RateLimited,
    TransientError,
)
from putbridge.intake import blackhole as bh
from putbridge.intake import watching
from putbridge.intake.blackhole import BlackholeWatcher
from putbridge.intake.dropfiles import free_name, is_drop_name
from tests.factories import infohash, make_torrent

STABLE = 0.1


def magnet(n: int, name: str = "Show") -> str:
    return f"magnet:?xt=urn:btih:{n:040x}&dn={name}.{n}"


class FakeAdd:
    """Records every submission; raises the queued errors first, one per call."""

    def __init__(self, errors=(), on_call=None):
        self.calls: list[tuple] = []
        self.errors = list(errors)
        self.on_call = on_call
        self.lock = threading.Lock()

    def __call__(self, source, target):
        with self.lock:
            self.calls.append((source, target, time.monotonic()))
            err = self.errors.pop(0) if self.errors else None
        if self.on_call is not None:
            self.on_call(source, target)
        if err is not None:
            raise err

    @property
    def keys(self) -> list[str]:
        with self.lock:
            return [source.key for source, _, _ in self.calls]


def wait_for(predicate, timeout: float = 5.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def drop(folder: Path, name: str, content: str | bytes) -> Path:
    """Write a drop the way Sonarr and careful tools do: a hidden temp name, then a rename."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    tmp = folder / f".drop-{threading.get_ident()}-{time.monotonic_ns()}.tmp"
    tmp.write_bytes(data)
    path = folder / name
    os.replace(tmp, path)
    return path


def listing(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


@pytest.fixture
def make_watcher(tmp_path):
    """Build (and, by default, start) a watcher over tmp_path/blackhole; stopped at teardown."""
    made: list[BlackholeWatcher] = []

    def make(add=None, start=True, **kwargs):
        fields = {f.name for f in dataclasses.fields(BlackholeSettings)} - {"stable_seconds"}
        options = {k: kwargs.pop(k) for k in list(kwargs) if k in fields}
        settings = BlackholeSettings(path=str(tmp_path / "blackhole"), **options)
        Path(settings.path).mkdir(exist_ok=True)
        kwargs.setdefault("stable_seconds", STABLE)
        kwargs.setdefault("retry_base", 0.05)
        watcher = BlackholeWatcher(settings, add if add is not None else FakeAdd(), **kwargs)
        made.append(watcher)
        if start:
            watcher.start()
        return watcher

    yield make
    for watcher in made:
        watcher.stop(timeout=5)


@pytest.fixture
def hole(tmp_path) -> Path:
    return tmp_path / "blackhole"


def test_drop_is_taken_and_moved_to_processed(make_watcher, hole):
    add = FakeAdd()
    watcher = make_watcher(add, target="/Downloads", poll_interval=60)  # inotify must wake it
    assert watcher.is_alive()
    drop(hole, "Show.S01E01.magnet", magnet(1))
    wait_for(lambda: (hole / "processed" / "Show.S01E01.magnet").exists(), what="processed")
    assert add.keys == [f"btih:{1:040x}"]
    source, target, _ = add.calls[0]
    assert target == "/Downloads"
    assert source.kind == "magnet" and source.url == magnet(1)
    assert listing(hole) == {"processed", "failed"}
    assert (hole / "processed" / "Show.S01E01.magnet").read_text() == magnet(1)


def test_delete_mode_removes_the_drop(make_watcher, hole):
    add = FakeAdd()
    make_watcher(add, after="delete")
    drop(hole, "a.magnet", magnet(2))
    wait_for(lambda: not (hole / "a.magnet").exists() and add.calls, what="deleted")
    assert add.keys == [f"btih:{2:040x}"]
    assert listing(hole) == {"failed"}  # processed/ is not made when nothing goes there


def test_slow_writer_is_submitted_only_once_complete(make_watcher, hole, tmp_path):
    add = FakeAdd()
    make_watcher(add, stable_seconds=0.25)
    data = make_torrent(tmp_path, {"Movie.2020.mkv": b"x" * 50_000}, name="Movie")
    chunks = [data[i : i + len(data) // 5 + 1] for i in range(0, len(data), len(data) // 5 + 1)]
    assert len(chunks) >= 4
    path = hole / "Movie.torrent"
    with open(path, "wb") as fh:  # written in place, in pieces: any early take would fail
        for chunk in chunks:
            fh.write(chunk)
            fh.flush()
            time.sleep(0.08)  # the writer's pause, shorter than stable_seconds
            assert add.calls == []
    wait_for(lambda: (hole / "processed" / "Movie.torrent").exists(), what="processed")
    assert len(add.calls) == 1
    source = add.calls[0][0]
    assert source.data == data
    assert source.key == f"btih:{infohash(data)}"
    assert listing(hole / "failed") == set()


def test_a_drop_renamed_into_place_is_taken_without_waiting_to_settle(make_watcher, hole):
    add = FakeAdd()
    make_watcher(add, stable_seconds=30)  # a file written in place would wait 30 s
    drop(hole, "renamed.magnet", magnet(1))
    with open(hole / "in-place.magnet", "w") as still_open:  # being written: not closed yet
        still_open.write(magnet(2))
        still_open.flush()
        wait_for(lambda: add.keys == [f"btih:{1:040x}"], timeout=5, what="the renamed drop")
        time.sleep(0.3)
        assert add.keys == [f"btih:{1:040x}"]  # the one still open is left to settle
        assert (hole / "in-place.magnet").exists()


def test_startup_scan_takes_what_is_already_there(make_watcher, hole):
    hole.mkdir()
    for n in range(3):
        path = drop(hole, f"old{n}.magnet", magnet(10 + n))
        os.utime(path, (time.time() - 3600 + n, time.time() - 3600 + n))
    add = FakeAdd()
    make_watcher(add, poll_interval=60)  # no event and no poll: only the start-up scan
    wait_for(lambda: len(listing(hole / "processed")) == 3, what="3 processed")
    assert sorted(add.keys) == [f"btih:{10 + n:040x}" for n in range(3)]


def test_polling_mode(make_watcher, hole):
    add = FakeAdd()
    watcher = make_watcher(add, polling=True, poll_interval=0.1)
    assert watcher.is_alive() and isinstance(watcher._observer, PollingObserver)
    drop(hole, "p.magnet", magnet(3))
    wait_for(lambda: (hole / "processed" / "p.magnet").exists(), what="processed")
    assert add.keys == [f"btih:{3:040x}"]


def test_falls_back_to_polling_without_inotify(make_watcher, hole, monkeypatch, caplog):
    def no_inotify(**options):
        raise OSError(24, "inotify instance limit reached")

    monkeypatch.setattr(watching, "Observer", no_inotify)
    add = FakeAdd()
    watcher = make_watcher(add, poll_interval=0.1)
    assert watcher.is_alive() and isinstance(watcher._observer, PollingObserver)
    assert any("polling instead" in r.getMessage() for r in caplog.records)
    drop(hole, "p.magnet", magnet(3))
    wait_for(lambda: (hole / "processed" / "p.magnet").exists(), what="processed")


def test_category_subfolder_gets_its_target(make_watcher, hole):
    add = FakeAdd()
    make_watcher(add, target="/Other", categories={"tv": "/TV", "movies": "/Movies"})
    assert (hole / "tv").is_dir() and (hole / "movies").is_dir()  # created for the user
    drop(hole / "tv", "ep.magnet", magnet(4))
    drop(hole / "movies", "film.magnet", magnet(5))
    drop(hole, "misc.magnet", magnet(6))
    wait_for(lambda: len(add.calls) == 3 and len(listing(hole / "processed")) == 3)
    targets = {source.key: target for source, target, _ in add.calls}
    assert targets == {
        f"btih:{4:040x}": "/TV",
        f"btih:{5:040x}": "/Movies",
        f"btih:{6:040x}": "/Other",
    }
    assert listing(hole / "processed") == {"ep.magnet", "film.magnet", "misc.magnet"}
    assert listing(hole / "tv") == set() and listing(hole / "movies") == set()


@pytest.mark.parametrize("name", ["", ".", "..", "processed", "Failed", ".hidden", "a/b", "/abs"])
def test_bad_category_names_are_refused(make_watcher, name):
    with pytest.raises(ConfigError, match="category"):
        make_watcher(categories={name: "/X"}, start=False)


def test_ignored_files_are_left_alone(make_watcher, hole):
    hole.mkdir()
    (hole / "other").mkdir()
    (hole / "processed").mkdir()
    (hole / "failed").mkdir()
    ignored = {
        hole / ".hidden.magnet": magnet(20),
        hole / "x.magnet.part": magnet(21),
        hole / "x.torrent.tmp": "junk",
        hole / "y.partial": "junk",
        hole / "notes.nfo": "not a drop",
        hole / "README": "no suffix",
        hole / "~lock.magnet": magnet(22),
        hole / "other" / "nested.magnet": magnet(23),
        hole / "processed" / "done.magnet": magnet(24),
        hole / "failed" / "bad.magnet": magnet(25),
    }
    for path, content in ignored.items():
        path.write_text(content)
    (hole / "dir.magnet").mkdir()  # a folder with a drop's name is not a drop
    add = FakeAdd()
    watcher = make_watcher(add)
    drop(hole, "real.magnet", magnet(26))
    wait_for(lambda: (hole / "processed" / "real.magnet").exists(), what="processed")
    assert watcher.scan_now(timeout=5)
    assert add.keys == [f"btih:{26:040x}"]
    assert all(path.exists() for path in ignored)
    assert listing(hole / "failed") == {"bad.magnet"}


def test_unknown_suffix_is_not_a_drop():
    assert is_drop_name("a.magnet") and is_drop_name("A.TORRENT") and is_drop_name("x.url")
    for name in ("a.nfo", "a.magnet.part", "a.torrent.tmp", ".a.magnet", "~a.torrent", "a"):
        assert not is_drop_name(name), name


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("garbage.torrent", b"this is not bencoded", "not a .torrent"),
        ("empty.magnet", b"", "empty"),
        ("ftp.magnet", b"ftp://example.com/x", "not accepted"),
        ("notes.txt", b"hello\nworld\n", "no magnet link"),
        ("latin1.magnet", b"magnet:?xt=urn:btih:\xff", "UTF-8"),
    ],
)
def test_bad_drop_goes_to_failed_with_a_reason(make_watcher, hole, name, content, problem):
    add = FakeAdd()
    make_watcher(add, target="/T")
    drop(hole, name, content)
    reason = hole / "failed" / (name + ".reason")
    wait_for(lambda: (hole / "failed" / name).exists(), what="failed")
    assert add.calls == []
    text = reason.read_text(encoding="utf-8")
    assert name in text and problem in text
    assert "failed at:" in text and "target: /T" in text
    assert (hole / "failed" / name).read_bytes() == content
    assert listing(hole) == {"failed", "processed"}


@pytest.mark.parametrize(
    "error",
    [
        IntakeError("put.io says the torrent is invalid"),
        PutioError("bad request", error_type="INVALID_TORRENT", status_code=400),
    ],
)
def test_permanent_refusal_goes_to_failed(make_watcher, hole, error):
    add = FakeAdd(errors=[error])
    make_watcher(add)
    drop(hole, "refused.magnet", magnet(30))
    wait_for(lambda: (hole / "failed" / "refused.magnet").exists(), what="failed")
    assert str(error) in (hole / "failed" / "refused.magnet.reason").read_text()
    assert len(add.calls) == 1
    assert listing(hole / "processed") == set()


@pytest.mark.parametrize(
    "error",
    [
        TransientError("put.io is down (502)", status_code=502),
        RateLimited("429", retry_after=0.05, status_code=429),
        AuthError("token revoked", status_code=401),
        NotFound("no such folder", status_code=404),
        PutioError("unexpected answer"),
        ConnectionResetError("connection reset"),
    ],
)
def test_transient_error_leaves_the_drop_and_retries(make_watcher, hole, caplog, error):
    caplog.set_level(logging.DEBUG, logger="putbridge.blackhole")
    seen_in_place = []
    add = FakeAdd(errors=[error, error], on_call=lambda s, t: seen_in_place.append(path.exists()))
    make_watcher(add, retry_base=0.1, retry_max=1.0)
    path = drop(hole, "retry.magnet", magnet(31))
    wait_for(lambda: (hole / "processed" / "retry.magnet").exists(), what="processed")
    assert len(add.calls) == 3
    assert seen_in_place == [True, True, True]  # stayed in the blackhole between tries
    gaps = [b[2] - a[2] for a, b in zip(add.calls, add.calls[1:], strict=False)]
    assert gaps[0] >= 0.09 and gaps[1] >= 0.18  # never early; doubling (jitter is ±10%)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "retry.magnet" in warnings[0].getMessage()
    # the line is logged just after the move: wait for it rather than race it
    wait_for(lambda: any("after 3 attempts" in r.getMessage() for r in caplog.records))
    assert listing(hole / "failed") == set()


def test_name_clashes_in_processed(make_watcher, hole):
    (hole / "processed").mkdir(parents=True)
    (hole / "processed" / "same.magnet").write_text("earlier")
    add = FakeAdd()
    make_watcher(add, categories={"tv": "/TV"})
    drop(hole, "same.magnet", magnet(40))
    drop(hole / "tv", "same.magnet", magnet(41))  # two drops, one name, at the same time
    wait_for(lambda: len(listing(hole / "processed")) == 3, what="3 in processed")
    processed = hole / "processed"
    assert listing(processed) == {"same.magnet", "same (2).magnet", "same (3).magnet"}
    assert (processed / "same.magnet").read_text() == "earlier"
    contents = {(processed / n).read_text() for n in ("same (2).magnet", "same (3).magnet")}
    assert contents == {magnet(40), magnet(41)}


def test_the_same_drop_twice_is_submitted_twice_and_both_kept(make_watcher, hole):
    add = FakeAdd()  # dedupe is the ledger's job: the watcher hands both over and keeps both
    make_watcher(add)
    drop(hole, "a.magnet", magnet(42))
    wait_for(lambda: (hole / "processed" / "a.magnet").exists())
    drop(hole, "a.magnet", magnet(42))
    wait_for(lambda: (hole / "processed" / "a (2).magnet").exists())
    assert add.keys == [f"btih:{42:040x}"] * 2


def test_drop_deleted_before_it_is_stable(make_watcher, hole):
    add = FakeAdd()
    watcher = make_watcher(add, stable_seconds=0.3)
    path = drop(hole, "gone.magnet", magnet(50))
    time.sleep(0.05)
    path.unlink()
    drop(hole, "after.magnet", magnet(51))
    wait_for(lambda: (hole / "processed" / "after.magnet").exists())
    assert add.keys == [f"btih:{51:040x}"]
    assert watcher.is_alive()


def test_drop_deleted_while_being_submitted(make_watcher, hole):
    add = FakeAdd(on_call=lambda s, t: (hole / "vanish.magnet").unlink())
    watcher = make_watcher(add)
    drop(hole, "vanish.magnet", magnet(52))
    wait_for(lambda: add.calls, what="a call")
    assert watcher.scan_now(timeout=5)
    assert listing(hole) == {"processed", "failed"}
    assert listing(hole / "processed") == set()
    assert watcher.is_alive()


def test_drop_deleted_before_it_is_read(make_watcher, hole, monkeypatch):
    real = bh.read_drop

    def read_after_delete(path):
        path.unlink()
        return real(path)

    monkeypatch.setattr(bh, "read_drop", read_after_delete)
    add = FakeAdd()
    watcher = make_watcher(add, start=False)
    drop(hole, "x.torrent", b"not even a torrent")
    assert watcher.scan_now(timeout=5)
    assert add.calls == []
    assert listing(hole) == set()  # not in failed/: nothing was refused, it just went away


def test_drop_rewritten_after_it_looked_stable_is_read_again(make_watcher, hole, monkeypatch):
    real = bh.read_drop
    rewritten = []

    def read_then_append(path):
        source = real(path)
        if not rewritten:  # the writer comes back after a pause longer than stable_seconds
            rewritten.append(True)
            with open(path, "a", encoding="utf-8") as fh:
                fh.write("&tr=http://tracker.invalid/announce")
        return source

    monkeypatch.setattr(bh, "read_drop", read_then_append)
    add = FakeAdd()
    watcher = make_watcher(add, start=False)
    drop(hole, "m.magnet", magnet(53))
    assert watcher.scan_now(timeout=5)
    assert len(add.calls) == 1
    assert add.calls[0][0].url == magnet(53) + "&tr=http://tracker.invalid/announce"


def test_burst_of_200_drops_each_submitted_once(make_watcher, hole):
    add = FakeAdd()
    make_watcher(add, categories={"tv": "/TV"}, stable_seconds=0.05)
    names = set()
    for n in range(200):
        folder = hole / "tv" if n % 3 == 0 else hole
        drop(folder, f"Burst {n:03d}.magnet", magnet(1000 + n))
        names.add(f"Burst {n:03d}.magnet")
    wait_for(lambda: len(listing(hole / "processed")) == 200, timeout=10, what="200 processed")
    assert listing(hole / "processed") == names
    assert sorted(add.keys) == sorted(f"btih:{1000 + n:040x}" for n in range(200))
    assert len(set(add.keys)) == 200
    assert listing(hole) == {"processed", "failed", "tv"} and listing(hole / "tv") == set()


def test_oldest_drop_first(make_watcher, hole):
    add = FakeAdd()
    watcher = make_watcher(add, start=False, workers=1)
    now = time.time()
    for n, age in enumerate([5, 30, 1, 10]):
        path = drop(hole, f"d{n}.magnet", magnet(60 + n))
        os.utime(path, (now - age, now - age))
    assert watcher.scan_now(timeout=5)
    assert add.keys == [f"btih:{60 + n:040x}" for n in (1, 3, 0, 2)]


def test_scan_now_without_start_and_timeout(make_watcher, hole):
    add = FakeAdd()
    watcher = make_watcher(add, start=False, stable_seconds=10)
    drop(hole, "slow.magnet", magnet(70))
    assert watcher.scan_now(timeout=0.2) is False  # not stable yet
    assert add.calls == [] and not watcher.is_alive()


def test_stop_joins_everything_quickly(make_watcher, hole):
    add = FakeAdd(errors=[TransientError("down")] * 100)
    watcher = make_watcher(add, poll_interval=60, retry_base=30)
    drop(hole, "r.magnet", magnet(80))
    wait_for(lambda: add.calls, what="a call")
    names = {t.name for t in threading.enumerate() if t.name.startswith("blackhole")}
    assert len(names) == 5  # the scanner and four workers
    started = time.monotonic()
    watcher.stop(timeout=3)
    assert time.monotonic() - started < 1.0
    assert not watcher.is_alive()
    assert not [t for t in threading.enumerate() if t.name.startswith("blackhole")]
    assert (hole / "r.magnet").exists()  # left for the next start


def test_stop_without_start_is_harmless(make_watcher):
    watcher = make_watcher(start=False)
    watcher.stop(timeout=1)
    assert not watcher.is_alive()


def test_stray_reason_from_a_crash_is_rewritten(make_watcher, hole):
    (hole / "failed").mkdir(parents=True)
    (hole / "failed" / "bad.torrent.reason").write_text("left by a crash")
    add = FakeAdd()
    make_watcher(add)
    drop(hole, "bad.torrent", b"junk")
    wait_for(lambda: (hole / "failed" / "bad.torrent").exists())
    assert listing(hole / "failed") == {"bad.torrent", "bad.torrent.reason"}
    assert "crash" not in (hole / "failed" / "bad.torrent.reason").read_text()


def test_unicode_and_very_long_names(make_watcher, hole):
    add = FakeAdd()
    make_watcher(add)
    unicode_name = "Ünïcødé 日本語 🎬 «Tëst» (2024).magnet"
    long_good = "Ä" * 120 + ".magnet"  # 247 bytes: fits, but not with " (2)" or ".reason"
    long_bad = "é" * 123 + ".torrent"  # 254 bytes
    assert len(os.fsencode(long_good)) <= 255 and len(os.fsencode(long_bad)) <= 255
    (hole / "processed").mkdir(exist_ok=True)
    (hole / "processed" / long_good).write_text("clash")
    drop(hole, unicode_name, magnet(90))
    drop(hole, long_good, magnet(91))
    drop(hole, long_bad, b"not a torrent")
    wait_for(lambda: len(listing(hole / "processed")) == 3 and len(listing(hole / "failed")) == 2)
    processed = listing(hole / "processed")
    assert unicode_name in processed
    renamed = [n for n in processed if n.endswith(" (2).magnet")]
    assert len(renamed) == 1 and len(os.fsencode(renamed[0])) <= 255
    assert (hole / "processed" / renamed[0]).read_text() == magnet(91)
    failed = sorted(listing(hole / "failed"))
    assert failed[0].endswith(".torrent") and failed[1] == failed[0] + ".reason"
    assert len(os.fsencode(failed[1])) <= 255
    assert (hole / "failed" / failed[0]).read_bytes() == b"not a torrent"
    assert sorted(add.keys) == [f"btih:{90:040x}", f"btih:{91:040x}"]


def test_free_name(tmp_path):
    assert free_name(tmp_path, "a.b.torrent") == tmp_path / "a.b.torrent"
    (tmp_path / "a.b.torrent").write_text("")
    (tmp_path / "a.b (2).torrent").write_text("")
    assert free_name(tmp_path, "a.b.torrent") == tmp_path / "a.b (3).torrent"
    long = "日" * 90 + ".magnet"  # 277 bytes: too long already
    name = free_name(tmp_path, long, reserve=7).name
    assert name.endswith(".magnet") and len(os.fsencode(name)) <= 255 - 7
    assert name.startswith("日" * 10)


def test_hostile_file_names_do_not_break_logs_or_reasons(make_watcher, hole, caplog):
    caplog.set_level(logging.INFO, logger="putbridge.blackhole")
    add = FakeAdd()
    make_watcher(add)
    newline = "evil\nINFO forged line.torrent"
    undecodable = os.fsdecode(b"bad-\xff\xfe-bytes.torrent")
    drop(hole, newline, b"junk")
    drop(hole, undecodable, b"junk")
    drop(hole, os.fsdecode(b"ok-\xff.magnet"), magnet(95))
    wait_for(lambda: len(listing(hole / "failed")) == 4 and len(listing(hole / "processed")) == 1)
    assert listing(hole / "failed") == {
        newline,
        newline + ".reason",
        undecodable,
        undecodable + ".reason",
    }
    outcomes = ("failed ", "submitted ")
    wait_for(lambda: sum(r.getMessage().startswith(outcomes) for r in caplog.records) == 3)
    for record in caplog.records:
        assert "\n" not in record.getMessage()
        record.getMessage().encode("utf-8")  # no lone surrogates reach the log handlers
    reason = (hole / "failed" / (undecodable + ".reason")).read_text(encoding="utf-8")
    assert "bad-" in reason


def test_a_bug_in_add_keeps_the_drop_and_the_worker(make_watcher, hole, caplog):
    add = FakeAdd(errors=[KeyError("oops")])
    watcher = make_watcher(add, retry_base=0.05)
    drop(hole, "bug.magnet", magnet(96))
    wait_for(lambda: (hole / "processed" / "bug.magnet").exists(), what="processed")
    assert len(add.calls) == 2
    assert watcher.is_alive()
    assert any("unexpectedly" in r.getMessage() for r in caplog.records)


def test_shutting_down_leaves_the_drop_quietly(make_watcher, hole, caplog):
    from putbridge.errors import ShuttingDown

    add = FakeAdd(errors=[ShuttingDown("stopping")])
    watcher = make_watcher(add, start=False, retry_base=0.05)
    drop(hole, "s.magnet", magnet(97))
    assert watcher.scan_now(timeout=5)
    assert (hole / "s.magnet").exists() and len(add.calls) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    # A later look (after retry_base) submits it.
    wait_for(lambda: watcher.scan_now(timeout=1) and (hole / "processed" / "s.magnet").exists())
    assert len(add.calls) == 2


def test_a_drop_closed_after_writing_is_taken_without_waiting_to_settle(make_watcher, hole):
    add = FakeAdd()
    make_watcher(add, stable_seconds=30)  # without the close event it would wait 30 s
    (hole / "written.magnet").write_text(magnet(5))  # written in place, as Sonarr does
    wait_for(lambda: add.keys == [f"btih:{5:040x}"], timeout=5, what="the closed drop")


def test_a_drop_moved_in_from_another_folder_is_taken_at_once(make_watcher, hole, tmp_path):
    add = FakeAdd()
    make_watcher(add, stable_seconds=30)
    outside = tmp_path / "elsewhere.magnet"
    outside.write_text(magnet(6))
    os.replace(outside, hole / "moved-in.magnet")
    wait_for(lambda: add.keys == [f"btih:{6:040x}"], timeout=5, what="the moved-in drop")
