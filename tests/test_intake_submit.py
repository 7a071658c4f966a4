"""TransferService against the emulator over HTTP: exactly one put.io transfer per input,
whatever happens between our request and put.io's answer."""

from __future__ import annotations

import threading
import time

import pytest

from putbridge.errors import IntakeError, TransientError
from putbridge.intake import submit as submit_module
from putbridge.intake.sources import Source, parse_link, parse_torrent
from putbridge.intake.submit import FolderResolver, TransferService, check_target
from putbridge.store import Store
from putbridge.transfers import TransferLedger
from tests.factories import infohash, make_torrent

HASH = "0123456789abcdef0123456789abcdef01234567"
MAGNET = f"magnet:?xt=urn:btih:{HASH}&dn=Some.Movie.2020.1080p"


@pytest.fixture
def ledger(tmp_path):
    store = Store(tmp_path / "state.db")
    yield TransferLedger(store)
    store.close()


@pytest.fixture
def service(putio, ledger):
    svc = TransferService(putio, ledger, callback_url="http://127.0.0.1:9/putio/callback/s")
    yield svc
    svc.stop()


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_a_magnet_becomes_one_transfer_in_the_target_folder(service, emulator):
    record, created = service.add(parse_link(MAGNET), target="/Movies/New", origin="api")
    assert created and record.state == "submitted" and record.attempts == 0
    (transfer,) = emulator.transfers.values()
    assert transfer.hash == HASH and record.putio_id == transfer.id
    assert emulator.path_of(transfer.save_parent_id) == "/Movies/New"
    assert transfer.callback_url == "http://127.0.0.1:9/putio/callback/s"


def test_the_same_input_twice_is_one_transfer(service, emulator):
    first, _ = service.add(parse_link(MAGNET), origin="api")
    upper = MAGNET.replace(HASH, HASH.upper()).replace("1080p", "720p")
    again, created = service.add(parse_link(upper), origin="blackhole:/b")
    assert not created and again.id == first.id
    assert len(emulator.transfers) == 1


def test_a_torrent_file_is_uploaded_and_its_bytes_dropped_after(service, emulator, tmp_path):
    data = make_torrent(tmp_path, {"Film.2021.mkv": b"x" * 5000})
    record, _ = service.add(parse_torrent(data, "Film.torrent"), target="/", origin="api")
    (transfer,) = emulator.transfers.values()
    assert transfer.hash == infohash(data) and record.putio_id == transfer.id
    assert service.ledger.torrent_bytes(record.id) is None
    # The same torrent as a magnet is still the same transfer.
    _again, created = service.add(parse_link(f"magnet:?xt=urn:btih:{infohash(data)}"), origin="x")
    assert not created and len(emulator.transfers) == 1


def test_many_threads_adding_the_same_magnet_make_one_transfer(service, emulator):
    barrier = threading.Barrier(12)
    results = []

    def add():
        barrier.wait()
        results.append(service.add(parse_link(MAGNET), origin="api"))

    threads = [threading.Thread(target=add) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(emulator.transfers) == 1
    assert sum(created for _record, created in results) == 1
    assert {record.id for record, _ in results} == {results[0][0].id}


def test_put_io_refusing_the_input_fails_it_with_the_reason(service, emulator):
    # Our parser would refuse an ftp: link first; here it stands for anything put.io refuses.
    refused = Source(
        kind="url", key="url:ftp://x/y", name="y", url="ftp://x/y", data=None, filename=None
    )
    with pytest.raises(IntakeError, match="refused"):
        service.add(refused, origin="api")
    (record,) = service.list()
    assert record.state == "failed" and "refused" in record.reason
    assert emulator.transfers == {}


def test_a_target_that_is_a_file_fails_clearly(service, emulator):
    emulator.add_path("/Movies", size=10)
    with pytest.raises(IntakeError, match="is a file, not a folder"):
        service.add(parse_link(MAGNET), target="/Movies", origin="api")
    assert service.list()[0].state == "failed"


@pytest.mark.parametrize("target", ["Movies", "/a/../b", "/a/\x00", "/a/./b", "", "/" + "x" * 300])
def test_hostile_targets_are_refused(target):
    with pytest.raises(IntakeError):
        check_target(target)


def test_targets_are_tidied():
    assert check_target("//Movies//New/") == "/Movies/New"
    assert check_target("/") == "/"


def test_a_send_with_no_recorded_outcome_is_found_on_putio_not_sent_again(service, emulator, putio):
    record, _ = service.ledger.receive(parse_link(MAGNET), target="/", origin="api")
    # The request reached put.io, then we died before writing its answer down.
    service.ledger.attempt(record.id, lease=-1)  # a sender that died
    putio.add_transfer(MAGNET)
    done = service.submit(record.id)
    assert done.state == "submitted" and len(emulator.transfers) == 1
    assert done.putio_id == next(iter(emulator.transfers))


def test_recover_settles_interrupted_sends_with_one_listing(service, emulator, putio):
    sent_hashes = [f"{n:040x}" for n in range(1, 6)]
    for hash_ in sent_hashes:
        record, _ = service.ledger.receive(
            parse_link(f"magnet:?xt=urn:btih:{hash_}"), target="/", origin="x"
        )
        service.ledger.attempt(record.id, lease=-1)  # a sender that died
        putio.add_transfer(f"magnet:?xt=urn:btih:{hash_}")
    never_sent, _ = service.ledger.receive(parse_link(MAGNET), target="/", origin="x")
    emulator.reset_stats()
    queued = service.recover()
    assert queued == 1
    assert emulator.stats["by_route"].get("GET /transfers/list") == 1
    assert len(service.ledger.list(states=["submitted"])) == 5
    service.start()
    assert wait_for(lambda: service.get(never_sent.id).state == "submitted")
    assert len(emulator.transfers) == 6


def test_a_transient_failure_leaves_it_received_and_the_workers_retry(
    service, emulator, monkeypatch
):
    monkeypatch.setattr(submit_module, "RETRY_BASE", 0.05)
    emulator.set_faults(error_rate=1.0)
    with pytest.raises(TransientError):
        service.add(parse_link(MAGNET), origin="api")
    (record,) = service.list()
    assert record.state == "received" and record.attempts == 1
    service.start()
    service.add(parse_link(MAGNET), origin="api", wait=False)
    time.sleep(0.2)
    assert service.get(record.id).state == "received"
    emulator.set_faults(error_rate=0.0)
    assert wait_for(lambda: service.get(record.id).state == "submitted")
    assert len(emulator.transfers) == 1


def test_queued_adds_are_sent_by_the_workers(service, emulator):
    service.start()
    records = [
        service.add(parse_link(f"magnet:?xt=urn:btih:{n:040x}"), origin="api", wait=False)[0]
        for n in range(1, 21)
    ]
    assert all(record.state == "received" for record in records)
    assert wait_for(lambda: len(service.ledger.list(states=["submitted"])) == 20)
    assert len(emulator.transfers) == 20
    service.stop()
    assert not service.is_alive()


def test_poke_calls_the_hook():
    poked = []
    svc = TransferService.__new__(TransferService)
    svc._on_poke = lambda: poked.append(1)
    svc.poke()
    assert poked == [1]


def test_folder_resolver_creates_once_and_remembers(putio, emulator):
    folders = FolderResolver(putio)
    first = folders.folder_id("/TV/Shows")
    emulator.reset_stats()
    assert folders.folder_id("/TV/Shows") == first
    assert emulator.stats["requests"] == 0
    assert emulator.path_of(first) == "/TV/Shows"
    assert folders.folder_id("/") == 0


def test_a_failed_torrent_added_again_as_a_magnet_is_sent_as_a_magnet(service, emulator, tmp_path):
    data = make_torrent(tmp_path, {"Film.2021.mkv": b"x" * 5000})
    record, _ = service.ledger.receive(parse_torrent(data, "f.torrent"), target="/", origin="x")
    service.ledger.transition(record.id, "failed", reason="dead")
    again, created = service.add(parse_link(f"magnet:?xt=urn:btih:{infohash(data)}"), origin="y")
    assert created and again.id == record.id and again.state == "submitted"
    assert service.get(record.id).kind == "magnet"
    (transfer,) = emulator.transfers.values()
    assert transfer.source.startswith("magnet:")


def test_a_row_another_process_is_sending_is_left_to_it(service, emulator):
    record, _ = service.ledger.receive(parse_link(MAGNET), target="/", origin="cli")
    assert service.ledger.attempt(record.id)  # `putbridge add` in another process holds it
    assert not service.ledger.attempt(record.id)
    assert service.submit(record.id).state == "received"
    assert emulator.transfers == {}
    service.ledger.release(record.id)  # it gave up (put.io down): we may send it now
    assert service.submit(record.id).state == "submitted" and len(emulator.transfers) == 1


def test_recover_resends_unsure_rows_put_io_never_got_without_asking_again(service, emulator):
    record, _ = service.ledger.receive(parse_link(MAGNET), target="/", origin="x")
    service.ledger.attempt(record.id, lease=-1)  # sent, then we died; put.io never got it
    assert service.recover() == 1
    assert service.get(record.id).attempts == 0
    emulator.reset_stats()
    service.submit(record.id)
    assert emulator.stats["by_route"].get("GET /transfers/list") is None
    assert len(emulator.transfers) == 1
