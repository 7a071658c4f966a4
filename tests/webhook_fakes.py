"""For the web layer's tests: a stand-in TransferService that keeps what it was asked and dedupes
by key, and the check of a JSON error answer.

It follows the interface the web app uses (add/get/list/poke/default_target) and nothing more;
the end-to-end tests run the real service.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytest

from putbridge.transfers import TransferRecord
from webhook import create_app


@dataclass(frozen=True)
class Added:
    source: Any
    target: str | None
    origin: str
    wait: bool


class FakeTransfers:
    default_target = "/putbridge"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records: dict[int, TransferRecord] = {}
        self.adds: list[Added] = []
        self.lists: list[tuple[int, list[str] | None]] = []
        self.gets: list[int] = []
        self.pokes = 0
        self.poked = threading.Event()
        self.fail: Exception | None = None

    def add(
        self, source: Any, *, target: str | None = None, origin: str, wait: bool = True
    ) -> tuple[TransferRecord, bool]:
        with self._lock:
            self.adds.append(Added(source, target, origin, wait))
            if self.fail is not None:
                raise self.fail
            for record in self.records.values():
                if record.key == source.key:
                    return record, False
            record = TransferRecord(
                id=len(self.records) + 1,
                key=source.key,
                kind=source.kind,
                name=source.name,
                target=target or self.default_target,
                origin=origin,
                state="received",
                created_at=time.time(),
            )
            self.records[record.id] = record
            return record, True

    def get(self, record_id: int) -> TransferRecord | None:
        if self.fail is not None:
            raise self.fail
        if not 0 <= record_id < 2**63:
            raise OverflowError("Python int too large to convert to SQLite INTEGER")  # as sqlite3
        self.gets.append(record_id)
        return self.records.get(record_id)

    def list(
        self, *, limit: int = 100, states: Iterable[str] | None = None
    ) -> list[TransferRecord]:
        wanted = list(states) if states is not None else None
        self.lists.append((limit, wanted))
        records = sorted(self.records.values(), key=lambda r: r.id, reverse=True)
        if wanted is not None:
            records = [r for r in records if r.state in wanted]
        return records[:limit]

    def poke(self) -> None:
        with self._lock:
            self.pokes += 1
        self.poked.set()

    def set_state(self, record_id: int, state: str) -> None:
        self.records[record_id] = dataclasses.replace(self.records[record_id], state=state)


HASH = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
MAGNET = f"magnet:?xt=urn:btih:{HASH}&dn=Big.Buck.Bunny.2008"


def assert_error(resp, status: int) -> str:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["status"] == status and isinstance(body["error"], str) and body["error"]
    assert "Traceback" not in resp.get_data(as_text=True)
    return body["error"]


# Fixtures shared by the web-layer test modules (imported there by name).


@pytest.fixture
def key() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture
def transfers() -> FakeTransfers:
    return FakeTransfers()


@pytest.fixture
def app(transfers, key):
    return create_app(transfers=transfers, api_key=key, callback_secret=secrets.token_urlsafe(24))


@pytest.fixture
def client(app, key):
    """A test client that sends the right key."""
    c = app.test_client()
    c.environ_base["HTTP_X_API_KEY"] = key
    return c


@pytest.fixture
def anon(app):
    return app.test_client()
