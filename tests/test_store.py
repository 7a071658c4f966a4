"""The SQLite store: WAL, migrations by user_version, one writer, clear errors."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from putbridge.store import MIGRATIONS, Store, StoreError


def test_new_database_is_migrated_and_in_wal(tmp_path):
    with Store(tmp_path / "state" / "putbridge.db") as store:
        assert store.version == len(MIGRATIONS)
        mode = store.query("PRAGMA journal_mode")[0][0]
        assert mode == "wal"
        assert store.query("PRAGMA busy_timeout")[0][0] >= 1000
        store.set_meta("secret", "v1")
        store.set_meta("secret", "v2")  # upsert
        assert store.get_meta("secret") == "v2"
        assert store.get_meta("missing") is None


def test_reopen_keeps_data_and_does_not_rerun_migrations(tmp_path):
    path = tmp_path / "p.db"
    with Store(path) as store:
        store.set_meta("k", "v")
    with Store(path) as store:
        assert store.get_meta("k") == "v"
        assert store.version == len(MIGRATIONS)


def test_later_migrations_apply_in_order_on_an_old_database(tmp_path):
    path = tmp_path / "p.db"
    with Store(path) as store:
        store.set_meta("k", "v")
    more = MIGRATIONS + (
        "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL);",
        "ALTER TABLE things ADD COLUMN size INTEGER NOT NULL DEFAULT 0;"
        "\nINSERT INTO things (name) VALUES ('a;b');",
    )
    with Store(path, migrations=more) as store:
        assert store.version == len(more)
        rows = store.query("SELECT name, size FROM things")
        assert [tuple(r) for r in rows] == [("a;b", 0)]
        assert store.get_meta("k") == "v"


def test_failed_migration_leaves_the_old_version_intact(tmp_path):
    path = tmp_path / "p.db"
    Store(path).close()
    broken = MIGRATIONS + ("CREATE TABLE ok (x);\nCREATE TABLE broken (;",)
    with pytest.raises(StoreError):
        Store(path, migrations=broken)
    with Store(path) as store:
        assert store.version == len(MIGRATIONS)
        assert not store.query("SELECT name FROM sqlite_master WHERE name = 'ok'")


def test_database_from_a_newer_putbridge_is_refused(tmp_path):
    path = tmp_path / "p.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this putbridge knows"):
        Store(path)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    path = tmp_path / "p.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="cannot use the state database"):
        Store(path)


def test_write_rolls_back_on_error(tmp_path):
    with Store(tmp_path / "p.db") as store:
        with pytest.raises(RuntimeError), store.write() as conn:
            conn.execute("INSERT INTO meta VALUES ('a', '1')")
            raise RuntimeError("boom")
        assert store.get_meta("a") is None


def test_concurrent_writers_from_threads_lose_nothing(tmp_path):
    with Store(tmp_path / "p.db") as store:

        def work(n):
            for i in range(50):
                with store.write() as conn:
                    conn.execute("INSERT INTO meta VALUES (?, ?)", (f"{n}-{i}", "x"))

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert store.query("SELECT count(*) FROM meta")[0][0] == 200


def test_second_process_connection_sees_committed_writes(tmp_path):
    path = tmp_path / "p.db"
    with Store(path) as a, Store(path) as b:
        a.set_meta("x", "1")
        assert b.get_meta("x") == "1"


def test_reads_inside_a_write_see_its_rows_and_other_threads_do_not_wait(tmp_path):
    with Store(tmp_path / "p.db") as store:
        store.set_meta("old", "1")
        inside = threading.Event()
        release = threading.Event()
        seen_by_other = []

        def writer():
            with store.write() as conn:
                conn.execute("INSERT INTO meta VALUES ('new', '2')")
                assert store.get_meta("new") == "2"  # our own uncommitted row
                inside.set()
                release.wait(10)

        thread = threading.Thread(target=writer)
        thread.start()
        assert inside.wait(10)
        # Another thread reads while the write transaction is open: WAL serves the last commit.
        seen_by_other.append((store.get_meta("old"), store.get_meta("new")))
        release.set()
        thread.join()
        assert seen_by_other == [("1", None)]
        assert store.get_meta("new") == "2"


def test_write_does_not_nest(tmp_path):
    with Store(tmp_path / "p.db") as store, store.write():
        with pytest.raises(RuntimeError, match="does not nest"), store.write():
            pass


OPEN_STORE = """
import sys, time
from putbridge.store import Store
start = float(sys.argv[2])
while time.time() < start:
    pass
Store(sys.argv[1]).close()
"""


def test_processes_opening_a_new_database_together_all_succeed(tmp_path):
    import subprocess
    import sys
    import time

    for round_ in range(3):
        path = tmp_path / f"r{round_}" / "state.db"
        start = time.time() + 0.5
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_STORE, str(path), str(start)],
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        errors = [p.communicate(timeout=60)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
        with Store(path) as store:
            assert store.version == len(MIGRATIONS)
