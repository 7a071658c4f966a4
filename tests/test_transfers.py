"""The transfer state machine and its ledger in SQLite."""

from __future__ import annotations

import itertools

import pytest

from putbridge.intake.sources import Source
from putbridge.store import Store
from putbridge.transfers import (
    STATES,
    TRANSITIONS,
    IllegalTransition,
    TransferLedger,
    TransferRecord,
    check_transition,
)

HASH = "0123456789abcdef0123456789abcdef01234567"


def magnet_source(hash_: str = HASH, name: str = "Some.Movie.2020") -> Source:
    return Source(
        kind="magnet",
        key=f"btih:{hash_}",
        name=name,
        url=f"magnet:?xt=urn:btih:{hash_}&dn={name}",
        data=None,
        filename=None,
    )


def torrent_source(data: bytes = b"d4:infod4:name1:aee") -> Source:
    return Source(
        kind="torrent", key=f"btih:{'f' * 40}", name="a", url=None, data=data, filename="a.torrent"
    )


@pytest.fixture
def ledger(tmp_path):
    store = Store(tmp_path / "state.db")
    clock = itertools.count(1000.0, 1.0)
    yield TransferLedger(store, now=lambda: next(clock))
    store.close()


@pytest.mark.parametrize(("current", "new"), list(itertools.product(STATES, STATES)))
def test_every_pair_of_states_is_allowed_exactly_as_the_table_says(current, new):
    if new in TRANSITIONS[current]:
        check_transition(current, new)
    else:
        with pytest.raises(IllegalTransition, match=f"from {current} to {new}"):
            check_transition(current, new)


def test_the_happy_path_is_allowed_and_scanned_is_the_end():
    for current, new in itertools.pairwise(
        ["received", "submitted", "downloading", "completed", "in_library", "scanned"]
    ):
        check_transition(current, new)
    assert TRANSITIONS["scanned"] == frozenset()
    with pytest.raises(IllegalTransition):
        check_transition("bogus", "received")


def test_receive_creates_one_row_and_a_duplicate_returns_it(ledger):
    first, created = ledger.receive(magnet_source(), target="/Movies", origin="api")
    again, created_again = ledger.receive(magnet_source(), target="/Other", origin="blackhole:/b")
    assert created and not created_again
    assert again.id == first.id and again.target == "/Movies" and again.origin == "api"
    assert first.state == "received" and first.url.startswith("magnet:")
    assert len(ledger.list()) == 1
    assert ledger.history(first.id) == [("received", 1000.0, "api")]


def test_transitions_are_checked_timestamped_and_recorded(ledger):
    record, _ = ledger.receive(magnet_source(), target="/", origin="api")
    submitted = ledger.transition(record.id, "submitted", putio_id=7, detail="sent")
    assert submitted.state == "submitted" and submitted.putio_id == 7
    assert submitted.updated_at > record.updated_at
    with pytest.raises(IllegalTransition):
        ledger.transition(record.id, "in_library")
    assert ledger.get(record.id).state == "submitted"  # refused: nothing changed
    ledger.transition(record.id, "completed", file_id=55)
    done = ledger.transition(record.id, "in_library", library_paths=["/lib/a.strm"])
    assert done.library_paths == ["/lib/a.strm"]
    states = [state for state, _at, _detail in ledger.history(record.id)]
    assert states == ["received", "submitted", "completed", "in_library"]
    times = [at for _state, at, _detail in ledger.history(record.id)]
    assert times == sorted(times) and len(set(times)) == len(times)


def test_a_failed_row_is_reopened_when_the_same_input_is_added_again(ledger):
    record, _ = ledger.receive(magnet_source(), target="/", origin="api")
    ledger.transition(record.id, "submitted", putio_id=3)
    ledger.transition(record.id, "failed", reason="dead torrent")
    again, created = ledger.receive(magnet_source(), target="/TV", origin="cli")
    assert created and again.id == record.id
    assert again.state == "received" and again.reason is None and again.putio_id is None
    assert again.target == "/TV"


def test_a_row_in_progress_is_not_reopened(ledger):
    record, _ = ledger.receive(magnet_source(), target="/", origin="api")
    ledger.transition(record.id, "submitted", putio_id=3)
    again, created = ledger.receive(magnet_source(), target="/", origin="api")
    assert not created and again.state == "submitted" and again.putio_id == 3


def test_torrent_bytes_are_kept_but_never_shown(ledger):
    record, _ = ledger.receive(torrent_source(b"d4:info" + b"x" * 10), target="/", origin="api")
    assert ledger.torrent_bytes(record.id).startswith(b"d4:info")
    shown = record.to_json()
    assert "torrent" not in shown and all(not isinstance(v, bytes) for v in shown.values())
    ledger.transition(record.id, "submitted", putio_id=1, torrent=None)
    assert ledger.torrent_bytes(record.id) is None


def test_update_refuses_the_state_and_unknown_fields(ledger):
    record, _ = ledger.receive(magnet_source(), target="/", origin="api")
    with pytest.raises(ValueError, match="transition"):
        ledger.update(record.id, state="completed")
    with pytest.raises(ValueError, match="key"):
        ledger.update(record.id, key="btih:x")
    assert ledger.update(record.id, percent=40).percent == 40


def test_adopting_a_transfer_started_on_putio_is_idempotent(ledger):
    assert ledger.adopt(key="putio:9", kind="url", name="x", target="putio:0", putio_id=9)
    assert not ledger.adopt(key="putio:9", kind="url", name="x", target="putio:0", putio_id=9)
    adopted = ledger.by_putio_id(9)
    assert adopted.origin == "putio" and adopted.state == "submitted"


def test_list_filters_by_state_newest_first_and_counts(ledger):
    ids = []
    for n in range(5):
        record, _ = ledger.receive(magnet_source(f"{n:040x}"), target="/", origin="api")
        ids.append(record.id)
    ledger.transition(ids[0], "submitted", putio_id=100)
    assert [r.id for r in ledger.list()] == ids[::-1]
    assert [r.id for r in ledger.list(states=["submitted"])] == [ids[0]]
    assert len(ledger.list(limit=2)) == 2
    assert ledger.counts() == {"received": 4, "submitted": 1}


def test_rows_survive_reopening_the_database(tmp_path):
    with Store(tmp_path / "s.db") as store:
        TransferLedger(store).receive(magnet_source(), target="/", origin="api")
    with Store(tmp_path / "s.db") as store:
        (record,) = TransferLedger(store).list()
        assert isinstance(record, TransferRecord) and record.key == f"btih:{HASH}"
