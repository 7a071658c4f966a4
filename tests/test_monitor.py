"""TransferMonitor against the emulator (manual clock): put.io's states become ledger states,
and a finished transfer's files reach the library."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from putbridge.config import LibrarySettings, Settings, TransferSettings
from putbridge.intake.sources import parse_link
from putbridge.intake.submit import TransferService
from putbridge.library.sync import library_sync_from_settings
from putbridge.monitor import TransferMonitor
from putbridge.store import Store
from putbridge.transfers import TransferLedger

HASH = "0123456789abcdef0123456789abcdef01234567"
MAGNET = f"magnet:?xt=urn:btih:{HASH}&dn=Some.Movie.2020.1080p.mkv&xl=100000000"


class RecordingNotifier:
    def __init__(self) -> None:
        self.calls: list[list[Path]] = []
        self.transfer_ids: list[int | None] = []

    def notify(self, paths: list[Path], *, transfer_id=None, removed=False) -> None:
        self.calls.append(list(paths))
        self.transfer_ids.append(transfer_id)


@pytest.fixture
def parts(tmp_path, putio, emulator):
    settings = Settings()
    settings.state.dir = str(tmp_path / "state")
    settings.library = [
        LibrarySettings(path=str(tmp_path / "library"), source="/", layout="movies")
    ]
    store = Store(tmp_path / "state" / "putbridge.db")
    ledger = TransferLedger(store)
    library = library_sync_from_settings(settings, putio, store)
    service = TransferService(putio, ledger)
    notifier = RecordingNotifier()

    def monitor(**options) -> TransferMonitor:
        return TransferMonitor(
            putio, ledger, library, settings=TransferSettings(**options), notifier=notifier
        )

    yield service, monitor, notifier, tmp_path / "library"
    service.stop()
    store.close()


def test_a_transfer_goes_from_submitted_to_the_library(parts, emulator):
    service, make_monitor, notifier, library = parts
    monitor = make_monitor()
    record, _ = service.add(parse_link(MAGNET), origin="api")
    assert monitor.check_once() is True
    emulator.clock.advance(0.5)
    monitor.check_once()
    assert service.get(record.id).state in ("submitted", "downloading")
    emulator.clock.advance(3600)
    assert monitor.check_once() is False  # nothing left to follow
    done = service.get(record.id)
    assert done.state == "in_library" and done.file_id is not None and done.percent == 100
    assert done.library_paths and all(Path(p).is_file() for p in done.library_paths)
    strm = [p for p in done.library_paths if p.endswith(".strm")]
    assert strm and Path(strm[0]).is_relative_to(library)
    assert notifier.calls == [[Path(p) for p in done.library_paths]]
    assert notifier.transfer_ids == [record.id]
    states = [state for state, _at, _ in service.ledger.history(record.id)]
    assert states[0] == "received" and states[-2:] == ["completed", "in_library"]


def test_a_failed_transfer_records_put_ios_reason(parts, emulator):
    service, make_monitor, _notifier, _library = parts
    emulator.mark_dead(HASH)
    record, _ = service.add(parse_link(MAGNET), origin="api")
    emulator.clock.advance(3600)
    make_monitor().check_once()
    failed = service.get(record.id)
    assert failed.state == "failed" and "Dead torrent" in failed.reason


def test_failed_transfers_are_retried_up_to_the_limit(parts, emulator):
    service, make_monitor, _notifier, _library = parts
    emulator.mark_dead(HASH)
    monitor = make_monitor(retries=2)
    record, _ = service.add(parse_link(MAGNET), origin="api")
    for _ in range(2):
        emulator.clock.advance(3600)
        monitor.check_once()
        assert service.get(record.id).state != "failed"
    emulator.clock.advance(3600)
    monitor.check_once()
    assert service.get(record.id).state == "failed" and service.get(record.id).retries == 2


def test_a_retry_that_works_reaches_the_library(parts, emulator):
    service, make_monitor, _notifier, _library = parts
    emulator.mark_dead(HASH)
    monitor = make_monitor(retries=1)
    record, _ = service.add(parse_link(MAGNET), origin="api")
    emulator.clock.advance(3600)
    monitor.check_once()
    emulator.clear_dead()
    emulator.transfers[record.putio_id or service.get(record.id).putio_id].failure = None
    emulator.clock.advance(3600)
    monitor.check_once()
    assert service.get(record.id).state == "in_library"


def test_a_transfer_removed_on_putio_is_cancelled(parts, emulator, putio):
    service, make_monitor, _notifier, _library = parts
    record, _ = service.add(parse_link(MAGNET), origin="api")
    putio.remove_transfers([service.get(record.id).putio_id])
    make_monitor().check_once()
    gone = service.get(record.id)
    assert gone.state == "cancelled" and "removed" in gone.reason


def test_transfers_started_by_hand_are_followed_but_old_ones_are_not(parts, emulator, putio):
    service, make_monitor, _notifier, _library = parts
    old = putio.add_transfer("magnet:?xt=urn:btih:" + "a" * 40 + "&dn=Old.Film.2001.mkv")
    emulator.clock.advance(3600)  # finished before putbridge first looked
    monitor = make_monitor()
    monitor.check_once()
    assert service.ledger.by_putio_id(old.id) is None
    new = putio.add_transfer("magnet:?xt=urn:btih:" + "b" * 40 + "&dn=New.Film.2022.mkv")
    monitor.check_once()
    adopted = service.ledger.by_putio_id(new.id)
    assert adopted is not None and adopted.origin == "putio"
    emulator.clock.advance(3600)
    monitor.check_once()
    assert service.ledger.by_putio_id(new.id).state == "in_library"


def test_follow_ours_ignores_transfers_started_elsewhere(parts, emulator, putio):
    service, make_monitor, _notifier, _library = parts
    monitor = make_monitor(follow="ours")
    monitor.check_once()
    putio.add_transfer("magnet:?xt=urn:btih:" + "b" * 40 + "&dn=New.Film.2022.mkv")
    monitor.check_once()
    assert service.ledger.list() == []


def test_clean_removes_the_finished_transfer_from_putio(parts, emulator):
    service, make_monitor, _notifier, _library = parts
    record, _ = service.add(parse_link(MAGNET), origin="api")
    emulator.clock.advance(3600)
    make_monitor(clean=True).check_once()
    assert service.get(record.id).state == "in_library"
    assert emulator.transfers == {}


@dataclass
class _BadReport:
    ok: bool = False
    changed: list = field(default_factory=list)


class _FailingLibrary:
    def __init__(self) -> None:
        self.calls = 0

    def sync_subtree(self, folder_id: int):
        self.calls += 1
        return _BadReport()


def test_a_library_write_that_fails_is_tried_again_next_poll(tmp_path, putio, emulator):
    with Store(tmp_path / "s.db") as store:
        ledger = TransferLedger(store)
        service = TransferService(putio, ledger)
        library = _FailingLibrary()
        monitor = TransferMonitor(putio, ledger, library)
        record, _ = service.add(parse_link(MAGNET), origin="api")
        emulator.clock.advance(3600)
        monitor.check_once()
        monitor.check_once()
        assert library.calls == 2 and service.get(record.id).state == "completed"


def test_the_thread_wakes_on_demand_and_stops_promptly(parts, emulator):
    service, make_monitor, _notifier, _library = parts
    monitor = make_monitor(poll_active=60, poll_idle=60)
    monitor.start()
    try:
        deadline = time.monotonic() + 5
        while monitor.polls < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        record, _ = service.add(parse_link(MAGNET), origin="api")
        emulator.clock.advance(3600)
        monitor.wake()
        deadline = time.monotonic() + 5
        while service.get(record.id).state != "in_library" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert service.get(record.id).state == "in_library"
        assert monitor.is_alive()
    finally:
        started = time.monotonic()
        monitor.stop()
        assert time.monotonic() - started < 2 and not monitor.is_alive()


def test_a_send_in_flight_is_not_mistaken_for_a_hand_started_transfer(parts, emulator, putio):
    service, make_monitor, _notifier, _library = parts
    monitor = make_monitor()
    monitor.check_once()  # the first poll sets the adoption mark
    url = "https://files.example.com/Some.Film.2020.1080p.mkv"
    record, _ = service.ledger.receive(parse_link(url), target="/", origin="api")
    service.ledger.attempt(record.id, lease=-1)  # a sender that died
    putio.add_transfer(url)  # put.io has it; our answer is not recorded yet
    monitor.check_once()
    assert [r.id for r in service.ledger.list()] == [record.id]  # not adopted as a new row
    linked = service.submit(record.id)
    assert linked.state == "submitted" and len(emulator.transfers) == 1


def test_a_seeding_transfer_is_already_in_the_library(parts, emulator):
    service, make_monitor, _notifier, _library = parts
    emulator.seed_time = 7 * 86400  # put.io seeds after downloading; the files are there
    record, _ = service.add(parse_link(MAGNET), origin="api")
    emulator.clock.advance(600)
    assert make_monitor().check_once() is False
    done = service.get(record.id)
    assert done.putio_status == "SEEDING" and done.state == "in_library" and done.library_paths


def test_a_failed_transfer_retried_by_hand_on_putio_is_followed_again(parts, emulator, putio):
    service, make_monitor, _notifier, _library = parts
    emulator.mark_dead(HASH)
    monitor = make_monitor()
    record, _ = service.add(parse_link(MAGNET), origin="api")
    emulator.clock.advance(3600)
    monitor.check_once()
    assert service.get(record.id).state == "failed"
    monitor.check_once()  # still failed on put.io: nothing changes, no illegal transition
    assert service.get(record.id).state == "failed"
    emulator.clear_dead()
    emulator.transfers[service.get(record.id).putio_id].failure = None
    putio.retry_transfer(service.get(record.id).putio_id)  # the user, on put.io's site
    emulator.clock.advance(3600)
    monitor.check_once()
    assert service.get(record.id).state == "in_library"


def test_one_transfer_whose_files_vanished_does_not_block_the_others(parts, emulator, monkeypatch):
    service, make_monitor, _notifier, _library = parts
    monitor = make_monitor()
    older, _ = service.add(parse_link(MAGNET), origin="api")
    newer, _ = service.add(
        parse_link(MAGNET.replace(HASH, "f" * 40).replace("Some", "Other")), origin="x"
    )
    emulator.clock.advance(3600)
    real = TransferMonitor._to_library

    def delete_first(self, record):
        if record.id == newer.id and record.file_id in emulator.files:
            emulator.delete_file(record.file_id)  # removed on put.io before we synced it
        return real(self, record)

    monkeypatch.setattr(TransferMonitor, "_to_library", delete_first)
    monitor.check_once()
    assert service.get(older.id).state == "in_library"
    vanished = service.get(newer.id)
    assert vanished.state == "failed" and "removed from put.io" in vanished.reason
    assert monitor.last_error is None  # put.io answered: health stays green


def test_a_full_sync_overtaken_by_a_transfer_keeps_the_transfers_files(parts, emulator):
    service, make_monitor, _notifier, _library = parts
    monitor = make_monitor()
    library = monitor.library
    record, _ = service.add(parse_link(MAGNET), origin="api")
    monitor.check_once()
    fired = []

    def progress(step, done, total):
        # The full sync has its listing; now the transfer completes and the monitor writes it.
        if step == "listing put.io" and total is not None and not fired:
            fired.append(1)
            emulator.clock.advance(3600)
            monitor.check_once()

    library.sync_all(progress=progress)
    done = service.get(record.id)
    assert fired and done.state == "in_library" and done.library_paths
    assert all(Path(p).exists() for p in done.library_paths)
    library.sync_all()  # the next full sync plans with the transfer in its listing
    assert all(Path(p).exists() for p in done.library_paths)
