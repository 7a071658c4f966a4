"""The transfer ledger: one row per torrent or URL, and the state machine it moves through.

    received -> submitted -> downloading -> completed -> in_library -> scanned
                    \\______________\\______________\\--> failed (with put.io's reason)
                                                       cancelled

A row is keyed by the input's info-hash (or normalized URL), so the same torrent dropped twice,
dropped and POSTed, or resubmitted after a crash is one row and one put.io transfer. Every
transition is checked against ``TRANSITIONS`` (pure, tested on its own) and written to
``transfer_history`` with its time, in the same transaction as the row.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from putbridge.errors import PutbridgeError
from putbridge.intake.sources import Source
from putbridge.store import Store

STATES = (
    "received",
    "submitted",
    "downloading",
    "completed",
    "in_library",
    "scanned",
    "failed",
    "cancelled",
)

# Where each state may go next. A failed or cancelled row goes back to "received" when the same
# input is added again (the user retries); put.io's own retry of an ERROR transfer moves a failed
# row on to downloading or completed.
TRANSITIONS: dict[str, frozenset[str]] = {
    "received": frozenset({"submitted", "failed", "cancelled"}),
    "submitted": frozenset({"downloading", "completed", "failed", "cancelled"}),
    "downloading": frozenset({"completed", "failed", "cancelled"}),
    "completed": frozenset({"in_library", "failed", "cancelled"}),
    "in_library": frozenset({"scanned"}),
    "scanned": frozenset(),
    "failed": frozenset({"received", "downloading", "completed", "cancelled"}),
    "cancelled": frozenset({"received"}),
}

# States in which put.io may still change the transfer: the monitor polls while any exist.
WATCHED_STATES = ("submitted", "downloading", "completed")


class IllegalTransition(PutbridgeError):
    """A state change the state machine does not allow."""


def check_transition(current: str, new: str) -> None:
    """Raise IllegalTransition unless ``current -> new`` is allowed."""
    if current not in TRANSITIONS:
        raise IllegalTransition(f"unknown transfer state {current!r}")
    if new not in TRANSITIONS[current]:
        raise IllegalTransition(f"a transfer cannot go from {current} to {new}")


@dataclass(frozen=True, slots=True)
class TransferRecord:
    id: int
    key: str
    kind: str
    name: str
    target: str
    origin: str
    state: str
    url: str | None = None
    filename: str | None = None
    putio_id: int | None = None
    file_id: int | None = None
    putio_status: str | None = None
    percent: int | None = None
    reason: str | None = None
    attempts: int = 0
    sending_until: float | None = None
    retries: int = 0
    library_paths: list[str] = field(default_factory=list)
    created_at: float = 0.0
    updated_at: float = 0.0

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> TransferRecord:
        values = {name: row[name] for name in row.keys() if name != "torrent"}  # noqa: SIM118
        values["library_paths"] = json.loads(values["library_paths"])
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        """What the web API and `putbridge status` show (never the .torrent bytes)."""
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "kind": self.kind,
            "key": self.key,
            "target": self.target,
            "origin": self.origin,
            "putio_id": self.putio_id,
            "file_id": self.file_id,
            "putio_status": self.putio_status,
            "percent": self.percent,
            "reason": self.reason,
            "library_paths": list(self.library_paths),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


class TransferLedger:
    """The transfers table: every read and write of it goes through here."""

    def __init__(self, store: Store, *, now: Callable[[], float] = time.time) -> None:
        self.store = store
        self._now = now

    # -- reading -------------------------------------------------------------------------

    def get(self, record_id: int) -> TransferRecord | None:
        rows = self.store.query("SELECT * FROM transfers WHERE id = ?", (int(record_id),))
        return TransferRecord.from_row(rows[0]) if rows else None

    def by_key(self, key: str) -> TransferRecord | None:
        rows = self.store.query("SELECT * FROM transfers WHERE key = ?", (key,))
        return TransferRecord.from_row(rows[0]) if rows else None

    def by_putio_id(self, putio_id: int) -> TransferRecord | None:
        rows = self.store.query("SELECT * FROM transfers WHERE putio_id = ?", (int(putio_id),))
        return TransferRecord.from_row(rows[0]) if rows else None

    def list(
        self, *, states: Iterable[str] | None = None, limit: int | None = None
    ) -> list[TransferRecord]:
        """Newest first."""
        sql, params = "SELECT * FROM transfers", []
        if states is not None:
            wanted = list(states)
            sql += f" WHERE state IN ({', '.join('?' * len(wanted))})"
            params += wanted
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [TransferRecord.from_row(row) for row in self.store.query(sql, tuple(params))]

    def putio_ids(self) -> set[int]:
        rows = self.store.query("SELECT putio_id FROM transfers WHERE putio_id IS NOT NULL")
        return {row["putio_id"] for row in rows}

    def counts(self) -> dict[str, int]:
        rows = self.store.query("SELECT state, COUNT(*) AS n FROM transfers GROUP BY state")
        return {row["state"]: row["n"] for row in rows}

    def torrent_bytes(self, record_id: int) -> bytes | None:
        rows = self.store.query("SELECT torrent FROM transfers WHERE id = ?", (int(record_id),))
        return rows[0]["torrent"] if rows else None

    def history(self, record_id: int) -> list[tuple[str, float, str | None]]:
        rows = self.store.query(
            "SELECT state, at, detail FROM transfer_history WHERE transfer = ? ORDER BY rowid",
            (int(record_id),),
        )
        return [(row["state"], row["at"], row["detail"]) for row in rows]

    # -- writing -------------------------------------------------------------------------

    def receive(self, source: Source, *, target: str, origin: str) -> tuple[TransferRecord, bool]:
        """The row for ``source``: a new one in ``received`` (True), or the existing one (False).

        A failed or cancelled row is reopened (back to ``received``, with the new input's bytes
        and target): adding the same thing again is how a user retries it.
        """
        now = self._now()
        with self.store.write() as conn:
            row = conn.execute("SELECT * FROM transfers WHERE key = ?", (source.key,)).fetchone()
            # What the input says: a new row is made of it, a reopened row takes it over.
            given = {
                "kind": source.kind,
                "name": source.name,
                "url": source.url,
                "torrent": source.data,
                "filename": source.filename,
                "target": target,
                "updated_at": now,
            }
            if row is None:
                given.update(key=source.key, origin=origin, state="received", created_at=now)
                cursor = conn.execute(
                    f"INSERT INTO transfers ({', '.join(given)}) "
                    f"VALUES ({', '.join('?' * len(given))})",
                    tuple(given.values()),
                )
                _history(conn, cursor.lastrowid, "received", now, origin)
                return self._row(conn, cursor.lastrowid), True
            if row["state"] in ("failed", "cancelled"):
                check_transition(row["state"], "received")
                assignments = ", ".join(f"{name} = ?" for name in given)
                conn.execute(
                    f"UPDATE transfers SET {assignments}, state = 'received', reason = NULL, "
                    "attempts = 0, retries = 0, sending_until = NULL, putio_id = NULL, "
                    "file_id = NULL, putio_status = NULL, percent = NULL WHERE id = ?",
                    (*given.values(), row["id"]),
                )
                _history(conn, row["id"], "received", now, f"added again ({origin})")
                return self._row(conn, row["id"]), True
            return TransferRecord.from_row(row), False

    def adopt(self, *, key: str, kind: str, name: str, target: str, putio_id: int) -> bool:
        """Record a transfer found on put.io that putbridge did not start; False if known."""
        now = self._now()
        with self.store.write() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO transfers (key, kind, name, target, origin, state, "
                "putio_id, created_at, updated_at) VALUES (?, ?, ?, ?, 'putio', 'submitted', "
                "?, ?, ?)",
                (key, kind, name, target, int(putio_id), now, now),
            )
            if cursor.rowcount == 0:
                return False
            _history(conn, cursor.lastrowid, "submitted", now, "found on put.io")
            return True

    def attempt(self, record_id: int, *, lease: float = 120.0) -> bool:
        """Claim a ``received`` row for sending, in any process: False if it is not received
        any more, or another sender holds it (until ``lease`` seconds have passed).

        The claim also counts the attempt: until its answer is recorded the outcome is unknown,
        and put.io must be asked before the row is sent again.
        """
        now = self._now()
        with self.store.write() as conn:
            cursor = conn.execute(
                "UPDATE transfers SET attempts = attempts + 1, sending_until = ?, updated_at = ? "
                "WHERE id = ? AND state = 'received' "
                "AND (sending_until IS NULL OR sending_until < ?)",
                (now + lease, now, int(record_id), now),
            )
            return cursor.rowcount == 1

    def release(self, record_id: int) -> None:
        """Give up a claim without an answer (put.io unavailable): another sender may try."""
        with self.store.write() as conn:
            conn.execute(
                "UPDATE transfers SET sending_until = NULL WHERE id = ?", (int(record_id),)
            )

    def transition(
        self, record_id: int, new_state: str, *, detail: str | None = None, **fields: Any
    ) -> TransferRecord:
        """Move a row to ``new_state`` (checked) and set ``fields`` in one transaction."""
        now = self._now()
        with self.store.write() as conn:
            row = conn.execute(
                "SELECT state FROM transfers WHERE id = ?", (int(record_id),)
            ).fetchone()
            if row is None:
                raise KeyError(f"no transfer {record_id}")
            check_transition(row["state"], new_state)
            _update(conn, record_id, {**fields, "state": new_state, "updated_at": now})
            _history(conn, record_id, new_state, now, detail)
            return self._row(conn, record_id)

    def update(self, record_id: int, **fields: Any) -> TransferRecord:
        """Set fields that are not the state (progress, put.io status)."""
        if "state" in fields:
            raise ValueError("use transition() to change the state")
        with self.store.write() as conn:
            _update(conn, record_id, {**fields, "updated_at": self._now()})
            return self._row(conn, record_id)

    @staticmethod
    def _row(conn: sqlite3.Connection, record_id: int) -> TransferRecord:
        row = conn.execute("SELECT * FROM transfers WHERE id = ?", (int(record_id),)).fetchone()
        return TransferRecord.from_row(row)


_UPDATABLE = frozenset(
    {
        "state",
        "putio_id",
        "file_id",
        "putio_status",
        "percent",
        "reason",
        "attempts",
        "sending_until",
        "retries",
        "library_paths",
        "torrent",
        "name",
        "updated_at",
    }
)


def _update(conn: sqlite3.Connection, record_id: int, fields: dict[str, Any]) -> None:
    unknown = set(fields) - _UPDATABLE
    if unknown:
        raise ValueError(f"cannot set {', '.join(sorted(unknown))} on a transfer")
    if "library_paths" in fields:
        fields["library_paths"] = json.dumps([str(p) for p in fields["library_paths"]])
    assignments = ", ".join(f"{name} = ?" for name in fields)
    conn.execute(
        f"UPDATE transfers SET {assignments} WHERE id = ?", (*fields.values(), int(record_id))
    )


def _history(
    conn: sqlite3.Connection, record_id: int | None, state: str, at: float, detail: str | None
) -> None:
    conn.execute(
        "INSERT INTO transfer_history (transfer, state, at, detail) VALUES (?, ?, ?, ?)",
        (record_id, state, at, detail),
    )
