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
import time
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
    # 2: the library manifest (what putbridge wrote, so it never touches anything else), temp
    # files in flight (removed by the next run after a crash), and remembered name parses.
    """
    CREATE TABLE library_files (
        library      TEXT NOT NULL,
        path         TEXT NOT NULL,
        file_id      INTEGER NOT NULL,
        kind         TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        PRIMARY KEY (library, path)
    );
    CREATE INDEX library_files_by_file ON library_files (file_id);
    CREATE TABLE library_pending (
        library  TEXT NOT NULL,
        tmp_path TEXT NOT NULL,
        target   TEXT,
        PRIMARY KEY (library, tmp_path)
    );
    CREATE TABLE media_parse (
        key    TEXT PRIMARY KEY,
        result TEXT NOT NULL
    );
    """,
    # 3: transfers (one row per torrent or URL, keyed by info-hash or normalized URL, so the
    # same input never becomes two put.io transfers) and the history of their states.
    """
    CREATE TABLE transfers (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        key           TEXT NOT NULL UNIQUE,
        kind          TEXT NOT NULL,
        name          TEXT NOT NULL,
        url           TEXT,
        torrent       BLOB,
        filename      TEXT,
        target        TEXT NOT NULL,
        origin        TEXT NOT NULL,
        state         TEXT NOT NULL,
        putio_id      INTEGER UNIQUE,
        file_id       INTEGER,
        putio_status  TEXT,
        percent       INTEGER,
        reason        TEXT,
        attempts      INTEGER NOT NULL DEFAULT 0,
        sending_until REAL,
        retries       INTEGER NOT NULL DEFAULT 0,
        library_paths TEXT NOT NULL DEFAULT '[]',
        created_at    REAL NOT NULL,
        updated_at    REAL NOT NULL
    );
    CREATE INDEX transfers_by_state ON transfers (state);
    CREATE TABLE transfer_history (
        transfer INTEGER NOT NULL REFERENCES transfers (id) ON DELETE CASCADE,
        state    TEXT NOT NULL,
        at       REAL NOT NULL,
        detail   TEXT
    );
    CREATE INDEX transfer_history_by_transfer ON transfer_history (transfer);
    """,
    # 4: folders waiting to be rescanned by each media server (so a restart or a server that is
    # down loses none), with the transfer that asked (0: a sync), and each server's last answer.
    """
    CREATE TABLE scan_queue (
        server    TEXT NOT NULL,
        folder    TEXT NOT NULL,
        transfer  INTEGER NOT NULL DEFAULT 0,
        removed   INTEGER NOT NULL DEFAULT 0,
        added_at  REAL NOT NULL,
        attempts  INTEGER NOT NULL DEFAULT 0,
        next_try  REAL NOT NULL DEFAULT 0,
        seq       INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (server, folder, transfer)
    );
    CREATE TABLE scan_results (
        server TEXT PRIMARY KEY,
        at     REAL NOT NULL,
        ok     INTEGER NOT NULL,
        detail TEXT NOT NULL
    );
    """,
)


class StoreError(PutbridgeError):
    """The state database cannot be opened or is from a newer putbridge."""


class Store:
    """The state database. Safe to share between threads.

    Writes go through ``write()``: one writer connection, one transaction at a time. Reads use a
    connection per thread, so they run beside a write (WAL) instead of queueing behind it; a read
    made inside ``write()`` uses the writer's connection and sees the uncommitted rows.
    """

    def __init__(self, path: str | Path, *, migrations: tuple[str, ...] = MIGRATIONS) -> None:
        self.path = Path(path)
        self._migrations = migrations
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._conn = self._connect(writer=True)
        try:
            self._migrate()
        except sqlite3.DatabaseError as err:
            self._conn.close()
            raise StoreError(f"cannot use the state database {path}: {err}") from err
        except BaseException:
            self._conn.close()
            raise

    def _connect(self, *, writer: bool = False) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                str(self.path),
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,  # transactions are explicit: BEGIN IMMEDIATE in write()
                check_same_thread=False,
            )
        except sqlite3.Error as err:
            raise StoreError(f"cannot open the state database {self.path}: {err}") from err
        conn.row_factory = sqlite3.Row
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if writer:  # WAL is a property of the file: set once, by the writer
                _retry_locked(lambda: conn.execute("PRAGMA journal_mode = WAL"))
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as err:
            conn.close()
            raise StoreError(f"cannot use the state database {self.path}: {err}") from err
        return conn

    @property
    def version(self) -> int:
        return self.query("PRAGMA user_version")[0][0]

    def _migrate(self) -> None:
        # The version is read inside each IMMEDIATE transaction: another process opening the same
        # new database at the same moment then waits for us and finds the work done.
        while True:
            with self.write() as conn:
                current = conn.execute("PRAGMA user_version").fetchone()[0]
                if current > len(self._migrations):
                    raise StoreError(
                        f"the state database {self.path} is at schema version {current}, newer "
                        f"than this putbridge knows ({len(self._migrations)}): upgrade putbridge"
                    )
                if current == len(self._migrations):
                    return
                # Statement by statement: executescript() would commit our transaction.
                for statement in _statements(self._migrations[current]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {current + 1}")

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed on success, rolled back on any exception."""
        with self._lock:
            if getattr(self._local, "in_write", False):
                raise RuntimeError("Store.write() does not nest")
            _retry_locked(lambda: self._conn.execute("BEGIN IMMEDIATE"))
            self._local.in_write = True
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._local.in_write = False

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        """Rows of one read-only statement."""
        if getattr(self._local, "in_write", False):
            return self._conn.execute(sql, params).fetchall()
        return self._reader().execute(sql, params).fetchall()

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "reader", None)
        if conn is None:
            conn = self._connect()
            with self._readers_lock:
                self._readers.append(conn)
            self._local.reader = conn
        return conn

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
        with self._lock, self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _retry_locked(action, *, attempts: int = 50, delay: float = 0.05):
    """Run ``action``, retrying while SQLite says the database is locked.

    The busy timeout covers most waits, but switching to WAL and starting a transaction can
    report "locked" at once while another process holds the lock.
    """
    for attempt in range(attempts):
        try:
            return action()
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or attempt == attempts - 1:
                raise
            time.sleep(delay)
    return None


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
