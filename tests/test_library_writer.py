"""The library writer: only what changed is written, only its own files are removed, and a
run killed at any point is mended by the next one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from putbridge.library.plan import Entry
from putbridge.library.writer import TMP_SUFFIX, LibraryWriter
from putbridge.store import Store


def strm(path, file_id, url=None):
    return Entry(path=path, kind="strm", file_id=file_id, content=url or f"http://b/{file_id}")


def tree_of(root):
    return {
        str(p.relative_to(root)): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "state" / "putbridge.db") as store:
        yield store


@pytest.fixture
def root(tmp_path):
    path = tmp_path / "library"
    path.mkdir()
    return path


def plan_of(*entries):
    return {e.path: e for e in entries}


def test_first_sync_writes_everything_and_a_second_writes_nothing(store, root):
    plan = plan_of(
        strm("Heat (1995)/Heat (1995).strm", 1),
        Entry("Heat (1995)/Heat (1995).nfo", "nfo", 1, "<movie><title>Heat</title></movie>"),
        strm("Show/Season 01/Show - S01E01.strm", 2),
    )
    writer = LibraryWriter(store, root)
    first = writer.apply(plan)
    assert sorted(first.added) == sorted(plan)
    assert tree_of(root)["Heat (1995)/Heat (1995).strm"] == "http://b/1"
    mtimes = {p: (root / p).stat().st_mtime_ns for p in plan}
    time.sleep(0.01)
    second = writer.apply(plan)
    assert (second.added, second.updated, second.removed) == ([], [], [])
    assert second.unchanged == 3
    assert {p: (root / p).stat().st_mtime_ns for p in plan} == mtimes
    assert sorted(p.relative_to(root).as_posix() for p in first.changed) == sorted(plan)


def test_changed_content_is_rewritten_and_gone_files_removed_with_their_folders(store, root):
    writer = LibraryWriter(store, root)
    writer.apply(plan_of(strm("A/a.strm", 1), strm("B/C/b.strm", 2), strm("B/c.strm", 3)))
    result = writer.apply(plan_of(strm("A/a.strm", 1, "http://new/1"), strm("B/c.strm", 3)))
    assert result.updated == ["A/a.strm"] and result.removed == ["B/C/b.strm"]
    assert tree_of(root) == {"A/a.strm": "http://new/1", "B/c.strm": "http://b/3"}
    assert not (root / "B" / "C").exists()  # emptied folder removed
    writer.apply({})
    assert list(root.iterdir()) == []  # everything removed, the root itself kept
    assert root.is_dir()


def test_files_the_user_put_there_are_never_touched(store, root):
    writer = LibraryWriter(store, root)
    writer.apply(plan_of(strm("Movie/Movie.strm", 1)))
    (root / "Movie" / "poster.jpg").write_text("mine")
    (root / "Other.strm").write_text("user's own link")
    result = writer.apply(plan_of(strm("Other.strm", 2)))  # Movie gone, Other planned
    assert result.conflicts == ["Other.strm"]
    assert (root / "Other.strm").read_text() == "user's own link"
    assert (root / "Movie" / "poster.jpg").read_text() == "mine"  # its folder stays for it
    assert not (root / "Movie" / "Movie.strm").exists()
    writer.apply({})
    assert (root / "Other.strm").read_text() == "user's own link"


def test_a_deleted_library_file_is_put_back(store, root):
    writer = LibraryWriter(store, root)
    plan = plan_of(strm("a.strm", 1))
    writer.apply(plan)
    (root / "a.strm").unlink()
    assert writer.apply(plan).updated == ["a.strm"]
    assert (root / "a.strm").exists()


def test_dry_run_reports_without_touching_disk_or_manifest(store, root):
    writer = LibraryWriter(store, root)
    writer.apply(plan_of(strm("old.strm", 1)))
    result = writer.apply(plan_of(strm("new.strm", 2)), dry_run=True)
    assert (result.added, result.removed) == (["new.strm"], ["old.strm"])
    assert tree_of(root) == {"old.strm": "http://b/1"}
    assert set(writer.manifest()) == {"old.strm"}


def test_partial_apply_never_removes(store, root):
    writer = LibraryWriter(store, root)
    writer.apply(plan_of(strm("a.strm", 1)))
    result = writer.apply(plan_of(strm("b.strm", 2)), partial=True)
    assert result.added == ["b.strm"] and result.removed == []
    assert set(tree_of(root)) == {"a.strm", "b.strm"}


def test_subtitles_fetched_once_absent_remembered_failures_retried(store, root):
    calls = []

    def fetch(entry):
        calls.append(entry.path)
        if entry.language == "en":
            return b"1\n00:00:00,000 --> 00:00:01,000\nHi\n"
        if entry.language == "fr":
            return None
        raise RuntimeError("put.io hiccup")

    plan = plan_of(
        strm("M.strm", 1),
        Entry("M.en.srt", "srt", 1, None, "en"),
        Entry("M.fr.srt", "srt", 1, None, "fr"),
        Entry("M.de.srt", "srt", 1, None, "de"),
    )
    writer = LibraryWriter(store, root)
    first = writer.apply(plan, fetch_subtitle=fetch)
    assert (root / "M.en.srt").read_bytes().startswith(b"1\n")
    assert not (root / "M.fr.srt").exists() and not (root / "M.de.srt").exists()
    assert first.failed == ["M.de.srt"]
    calls.clear()
    writer.apply(plan, fetch_subtitle=fetch)
    assert calls == ["M.de.srt"]  # en written, fr known absent: only the failure is retried
    writer.apply(plan_of(strm("M.strm", 1)), fetch_subtitle=fetch)
    assert not (root / "M.en.srt").exists()


def test_a_path_outside_the_root_is_refused(store, root):
    with pytest.raises(ValueError):
        LibraryWriter(store, root).apply(plan_of(strm("../escape.strm", 1)))
    assert not (root.parent / "escape.strm").exists()


def test_crash_between_temp_write_and_rename_is_mended(store, root, monkeypatch):
    plan = plan_of(*(strm(f"F{i % 7}/v{i}.strm", i) for i in range(40)))
    writer = LibraryWriter(store, root)
    real_replace = os.replace
    count = {"n": 0}

    def dying_replace(src, dst):
        count["n"] += 1
        if count["n"] == 15:
            raise KeyboardInterrupt("killed")  # the process dies with a temp file on disk
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        writer.apply(plan)
    monkeypatch.setattr(os, "replace", real_replace)
    assert list(root.rglob(f"*{TMP_SUFFIX}"))  # the crash left one behind
    result = LibraryWriter(store, root).apply(plan)
    assert not list(root.rglob(f"*{TMP_SUFFIX}"))
    assert tree_of(root) == {p: e.content for p, e in plan.items()}
    assert result.conflicts == []  # files renamed before the crash are adopted, not refused
    assert store.query("SELECT count(*) FROM library_pending")[0][0] == 0


KILLED_SYNC = """
import sys
from pathlib import Path
from putbridge.library.plan import Entry
from putbridge.library.writer import LibraryWriter
from putbridge.store import Store
version = sys.argv[3]
plan = {
    f"S{i % 50}/Season 01/e{i}.strm": Entry(f"S{i % 50}/Season 01/e{i}.strm", "strm", i,
                                            f"http://b/{version}/{i}")
    for i in range(int(sys.argv[4]))
}
with Store(sys.argv[1]) as store:
    LibraryWriter(store, Path(sys.argv[2])).apply(plan)
print("done", flush=True)
"""


def test_sync_killed_at_random_points_converges(tmp_path, root):
    db = tmp_path / "kill.db"

    def run(version, count, kill_after=None):
        proc = subprocess.Popen(
            [sys.executable, "-c", KILLED_SYNC, str(db), str(root), version, str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        if kill_after is not None:
            time.sleep(kill_after)
            proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
        return proc.returncode, err

    for attempt, delay in enumerate((0.35, 0.45, 0.55, 0.65)):
        run(f"v{attempt % 2}", 3000 - 500 * attempt, kill_after=delay)
    code, err = run("final", 2000)
    assert code == 0, err
    assert not list(root.rglob(f"*{TMP_SUFFIX}"))
    files = tree_of(root)
    assert len(files) == 2000
    assert all(text.startswith("http://b/final/") for text in files.values())
    with Store(db) as store:
        assert store.query("SELECT count(*) FROM library_files")[0][0] == 2000
        assert store.query("SELECT count(*) FROM library_pending")[0][0] == 0


def test_names_that_use_all_255_bytes_are_written(store, root):
    long_name = "é" * 122 + "a.strm"  # 250 bytes: the temp name must not be longer
    assert len(long_name.encode()) <= 255
    result = LibraryWriter(store, root).apply(plan_of(strm(f"Movie/{long_name}", 1)))
    assert result.added == [f"Movie/{long_name}"] and not result.failed
    assert (root / "Movie" / long_name).read_text() == "http://b/1"


def test_partial_apply_does_not_take_a_name_another_file_holds(store, root):
    writer = LibraryWriter(store, root)
    writer.apply(plan_of(strm("Heat (1995)/Heat (1995).strm", 5)))
    result = writer.apply(plan_of(strm("Heat (1995)/Heat (1995).strm", 9)), partial=True)
    assert result.conflicts == ["Heat (1995)/Heat (1995).strm"]
    assert (root / "Heat (1995)/Heat (1995).strm").read_text() == "http://b/5"
