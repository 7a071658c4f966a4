"""For the web layer's tests: a stand-in TransferService that keeps what it was asked and dedupes
by key, and the check of a JSON error answer.

It follows the interface the web app uses (add/get/list/poke/default_target) and nothing more;
the end-to-end tests run the real service.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FakeRecord:
    id: int
    key: str
    kind: str
    name: str
    target: str
    origin: str
    state: str = "received"
    created_at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "kind": self.kind,
            "name": self.name,
            "target": self.target,
            "origin": self.origin,
            "state": self.state,
            "created_at": self.created_at,
        }


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
        self.records: dict[int, FakeRecord] = {}
        self.adds: list[Added] = []
        self.lists: list[tuple[int, list[str] | None]] = []
        self.gets: list[int] = []
        self.pokes = 0
        self.poked = threading.Event()
        self.fail: Exception | None = None

    def add(
        self, source: Any, *, target: str | None = None, origin: str, wait: bool = True
    ) -> tuple[FakeRecord, bool]:
        with self._lock:
            self.adds.append(Added(source, target, origin, wait))
            if self.fail is not None:
                raise self.fail
            for record in self.records.values():
                if record.key == source.key:
                    return record, False
            record = FakeRecord(
                id=len(self.records) + 1,
                key=source.key,
                kind=source.kind,
                name=source.name,
                target=target or self.default_target,
                origin=origin,
            )
            self.records[record.id] = record
            return record, True

    def get(self, record_id: int) -> FakeRecord | None:
        if self.fail is not None:
            raise self.fail
        if not 0 <= record_id < 2**63:
            raise OverflowError("Python int too large to convert to SQLite INTEGER")  # as sqlite3
        self.gets.append(record_id)
        return self.records.get(record_id)

    def list(self, *, limit: int = 100, states: Iterable[str] | None = None) -> list[FakeRecord]:
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
        record = self.records[record_id]
        self.records[record_id] = FakeRecord(
            record.id, record.key, record.kind, record.name, record.target, record.origin, state
        )


HASH = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
MAGNET = f"magnet:?xt=urn:btih:{HASH}&dn=Big.Buck.Bunny.2008"


def assert_error(resp, status: int) -> str:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["status"] == status and isinstance(body["error"], str) and body["error"]
    assert "Traceback" not in resp.get_data(as_text=True)
    return body["error"]
