"""SQLite state: the one place putbridge keeps what it knows between runs.

One module owns the schema. Migrations are numbered by ``PRAGMA user_version``: each runs in its
own transaction together with the version bump, so a crash leaves the database at the old or the
new version, never between. WAL lets readers proceed while the single writer (serialised by a
lock in this process, by SQLite's busy timeout across processes) commits.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from putbridge.errors import PutbridgeError

BUSY_TIMEOUT_MS = 10_000

# Index i holds the SQL that takes the schema from version i to i + 1. Append only: a migration
# that has shipped is never edited, a change is a new entry.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
)


class StoreError(PutbridgeError):
    """The state database cannot be opened or is from a newer putbridge."""


class Store:
    """The state database. Safe to share between threads; writes go through ``write()``."""

    def __init__(self, path: str | Path, *, migrations: tuple[str, ...] = MIGRATIONS) -> None:
        self.path = Path(path)
        self._migrations = migrations
        self._write_lock = threading.Lock()
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            self._conn = sqlite3.connect(
                str(path),
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,  # transactions are explicit: BEGIN IMMEDIATE in write()
                check_same_thread=False,
            )
        except sqlite3.Error as err:
            raise StoreError(f"cannot open the state database {path}: {err}") from err
        self._conn.row_factory = sqlite3.Row
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as err:
            self._conn.close()
            raise StoreError(f"cannot use the state database {path}: {err}") from err
        except BaseException:
            self._conn.close()
            raise

    @property
    def version(self) -> int:
        return self._conn.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        with self._write_lock:
            current = self.version
            if current > len(self._migrations):
                raise StoreError(
                    f"the state database {self.path} is at schema version {current}, newer than "
                    f"this putbridge knows ({len(self._migrations)}): upgrade putbridge"
                )
            for number in range(current, len(self._migrations)):
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    # Statement by statement: executescript() would commit our transaction.
                    for statement in _statements(self._migrations[number]):
                        self._conn.execute(statement)
                    self._conn.execute(f"PRAGMA user_version = {number + 1}")
                    self._conn.execute("COMMIT")
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed on success, rolled back on any exception."""
        with self._write_lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        """Rows of one read-only statement."""
        with self._write_lock:
            return self._conn.execute(sql, params).fetchall()

    def get_meta(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.write() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def close(self) -> None:
        with self._write_lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _statements(script: str) -> Iterator[str]:
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                yield buffer.strip()
            buffer = ""
    if buffer.strip():
        yield buffer.strip()
