"""Apply a planned library to disk: write what changed, delete what went, touch nothing else.

The manifest (table ``library_files``) lists every file putbridge wrote, with the put.io file it
comes from and a hash of its content. A sync compares the plan with it, so an unchanged library
costs no writes. Files appear atomically (temp file + ``os.replace``); each temp file is recorded
in ``library_pending`` before it is created, so the run after a crash finds and removes it. A path
that holds a file putbridge did not write is never overwritten or deleted.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from putbridge.library.naming import inside_root
from putbridge.library.plan import Entry
from putbridge.store import Store

log = logging.getLogger(__name__)

TMP_SUFFIX = ".putbridge-tmp"
BATCH = 500
# The manifest hash of a wanted subtitle put.io does not have: remembered so that every sync does
# not ask again; a full re-sync after deleting the row asks once more.
ABSENT = "absent"


@dataclass
class SyncResult:
    """What one sync of one library did (or, dry, would do). Paths are relative to ``root``."""

    library: str
    root: Path
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    conflicts: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> list[Path]:
        """Absolute paths written or removed: what the media servers should rescan."""
        return [self.root / p for p in (*self.added, *self.updated, *self.removed)]

    def summary(self) -> str:
        parts = [
            f"{len(self.added)} added",
            f"{len(self.updated)} updated",
            f"{len(self.removed)} removed",
            f"{self.unchanged} unchanged",
        ]
        if self.conflicts:
            parts.append(f"{len(self.conflicts)} skipped (a file putbridge did not write is there)")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        return ", ".join(parts)


def _temp_path(target: Path) -> Path:
    """A short temp name beside ``target``: the target's own name may already use all 255
    bytes a file name can have, so the temp name is derived from a hash of it."""
    digest = hashlib.sha1(target.name.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return target.with_name(f".pb-{digest}{TMP_SUFFIX}")


def content_hash(entry: Entry) -> str:
    if entry.kind == "srt":  # fetched once; put.io's subtitle text is not compared afterwards
        return f"srt:{entry.file_id}:{entry.language}"
    return hashlib.sha256((entry.content or "").encode("utf-8")).hexdigest()


class LibraryWriter:
    """Makes the folder ``root`` hold exactly the planned entries, by the manifest in ``store``."""

    def __init__(self, store: Store, root: Path) -> None:
        self.store = store
        self.root = Path(root).absolute()
        self.key = str(self.root)

    def manifest_size(self) -> int:
        rows = self.store.query("SELECT count(*) FROM library_files WHERE library = ?", (self.key,))
        return rows[0][0]

    def manifest(self) -> dict[str, tuple[int, str]]:
        rows = self.store.query(
            "SELECT path, file_id, content_hash FROM library_files WHERE library = ?", (self.key,)
        )
        return {row["path"]: (row["file_id"], row["content_hash"]) for row in rows}

    def apply(
        self,
        plan: Mapping[str, Entry],
        *,
        fetch_subtitle: Callable[[Entry], bytes | None] | None = None,
        dry_run: bool = False,
        partial: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> SyncResult:
        """Write new and changed entries; unless ``partial``, delete manifest files not planned.

        ``partial`` is for syncing one put.io folder: the plan covers only that folder, so
        nothing outside it may be removed.
        """
        with self._locked():
            return self._apply(plan, fetch_subtitle, dry_run, partial, progress)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One sync of this library at a time, across threads and processes (the daemon's
        transfer sync and a `putbridge sync` by hand): each would take the other's temp files
        for a crash's leftovers."""
        digest = hashlib.sha1(self.key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        lock_path = self.store.path.parent / f"library-{digest}.lock"
        with open(lock_path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _apply(
        self,
        plan: Mapping[str, Entry],
        fetch_subtitle: Callable[[Entry], bytes | None] | None,
        dry_run: bool,
        partial: bool,
        progress: Callable[[int, int], None] | None,
    ) -> SyncResult:
        result = SyncResult(library=self.key, root=self.root)
        if not dry_run:
            self._remove_stale_temp_files()
        known = self.manifest()
        writes: list[Entry] = []
        for path, entry in plan.items():
            previous = known.get(path)
            digest = content_hash(entry)
            if partial and previous is not None and previous[0] not in (entry.file_id, 0):
                # Another put.io file holds this name; only a full sync, which sees both,
                # may decide who keeps it (the lower id) and tag the other.
                log.info(
                    "%s: name taken by put.io file %d; settled by the next full sync",
                    path,
                    previous[0],
                )
                result.conflicts.append(path)
            elif previous is None:
                writes.append(entry)
            elif previous[1] != digest and not (entry.kind == "srt" and previous[1] == ABSENT):
                writes.append(entry)
            elif previous[1] != ABSENT and not self._target(path).exists():
                writes.append(entry)  # someone deleted it: put it back
            else:
                result.unchanged += 1
        removals = [] if partial else sorted(set(known) - set(plan))
        if dry_run:
            for entry in writes:
                (result.updated if entry.path in known else result.added).append(entry.path)
            result.removed.extend(removals)
            return result
        for start in range(0, len(writes), BATCH):
            self._write_batch(writes[start : start + BATCH], known, fetch_subtitle, result)
            if progress:
                progress(min(start + BATCH, len(writes)), len(writes))
        self._remove(removals, known, result)
        return result

    # -- writing ---------------------------------------------------------------------------

    def _target(self, relpath: str) -> Path:
        return inside_root(self.root, relpath)

    def _write_batch(
        self,
        entries: list[Entry],
        known: Mapping[str, tuple[int, str]],
        fetch_subtitle: Callable[[Entry], bytes | None] | None,
        result: SyncResult,
    ) -> None:
        staged: list[tuple[Entry, Path, Path | None, str]] = []
        for entry in entries:
            target = self._target(entry.path)
            if entry.path not in known and target.exists() and not self._same(target, entry):
                log.warning("not overwriting %s: putbridge did not write it", target)
                result.conflicts.append(entry.path)
                continue
            data = self._data(entry, fetch_subtitle, result)
            if data is None:
                if entry.kind == "srt" and entry.path not in result.failed:
                    staged.append((entry, target, None, ABSENT))
                continue
            staged.append((entry, target, _temp_path(target), data))
        if not staged:
            return
        with self.store.write() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO library_pending (library, tmp_path, target) "
                "VALUES (?, ?, ?)",
                [(self.key, str(tmp), str(t)) for _, t, tmp, _ in staged if tmp is not None],
            )
        done: list[tuple[Entry, str]] = []
        for entry, target, tmp, data in staged:
            if tmp is None:
                done.append((entry, ABSENT))
                continue
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                payload = data if isinstance(data, bytes) else data.encode("utf-8")
                with open(tmp, "wb") as fh:
                    fh.write(payload)
                os.replace(tmp, target)
            except OSError as err:
                log.error("cannot write %s: %s", target, err.strerror or err)
                result.failed.append(entry.path)
                _discard(tmp)
                continue
            (result.updated if entry.path in known else result.added).append(entry.path)
            done.append((entry, content_hash(entry)))
        with self.store.write() as conn:
            conn.executemany(
                "INSERT INTO library_files (library, path, file_id, kind, content_hash) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (library, path) DO UPDATE SET "
                "file_id = excluded.file_id, kind = excluded.kind, "
                "content_hash = excluded.content_hash",
                [(self.key, e.path, e.file_id, e.kind, digest) for e, digest in done],
            )
            conn.executemany(
                "DELETE FROM library_pending WHERE library = ? AND tmp_path = ?",
                [(self.key, str(tmp)) for _, _, tmp, _ in staged if tmp is not None],
            )

    def _data(
        self,
        entry: Entry,
        fetch_subtitle: Callable[[Entry], bytes | None] | None,
        result: SyncResult,
    ) -> str | bytes | None:
        if entry.kind != "srt":
            return entry.content or ""
        if fetch_subtitle is None:
            return None
        try:
            return fetch_subtitle(entry)
        except Exception as err:  # one subtitle must not stop the library: say so and go on
            log.warning("subtitle %s not fetched: %s", entry.path, err)
            result.failed.append(entry.path)
            return None

    @staticmethod
    def _same(target: Path, entry: Entry) -> bool:
        """True when ``target`` already holds exactly what we would write (a crash between our
        rename and our manifest update leaves that): then it is ours to adopt."""
        if entry.kind == "srt" or not target.is_file():
            return False
        try:
            return target.read_bytes() == (entry.content or "").encode("utf-8")
        except OSError:
            return False

    # -- removing --------------------------------------------------------------------------

    def _remove(
        self, paths: Iterable[str], known: Mapping[str, tuple[int, str]], result: SyncResult
    ) -> None:
        removed: list[str] = []
        folders: set[Path] = set()
        for path in paths:
            target = self._target(path)
            try:
                target.unlink(missing_ok=True)
            except IsADirectoryError:
                log.warning("not removing %s: it is a folder now", target)
            except OSError as err:
                log.error("cannot remove %s: %s", target, err.strerror or err)
                result.failed.append(path)
                continue
            removed.append(path)
            if known[path][1] != ABSENT:
                result.removed.append(path)
            folders.add(target.parent)
        if removed:
            with self.store.write() as conn:
                conn.executemany(
                    "DELETE FROM library_files WHERE library = ? AND path = ?",
                    [(self.key, p) for p in removed],
                )
        self._prune(folders)

    def _prune(self, folders: Iterable[Path]) -> None:
        """Remove folders the removals emptied, deepest first, never the root itself."""
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            current = folder
            while current != self.root and self.root in current.parents:
                try:
                    current.rmdir()  # only succeeds when empty: a user's file keeps it
                except OSError:
                    break
                current = current.parent

    def _remove_stale_temp_files(self) -> None:
        """Mend a run that died mid-batch: remove its temp files and claim their targets.

        A target whose temp file was recorded may have been renamed into place before the
        manifest said so: it is ours (we were writing it), so it is recorded with a hash that
        matches nothing, and this run rewrites or removes it like any other file of ours.
        """
        rows = self.store.query(
            "SELECT tmp_path, target FROM library_pending WHERE library = ?", (self.key,)
        )
        if not rows:
            return
        known = self.manifest()
        claimed: list[str] = []
        for row in rows:
            tmp = Path(row["tmp_path"])
            _discard(tmp)
            target = Path(row["target"]) if row["target"] else None
            if target is None:
                continue
            try:
                relpath = target.relative_to(self.root).as_posix()
            except ValueError:
                continue
            if relpath not in known and target.is_file():
                claimed.append(relpath)
        log.info("mended an interrupted sync: %d temp files removed", len(rows))
        with self.store.write() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO library_files (library, path, file_id, kind, content_hash) "
                "VALUES (?, ?, 0, 'unknown', 'interrupted')",
                [(self.key, relpath) for relpath in claimed],
            )
            conn.execute("DELETE FROM library_pending WHERE library = ?", (self.key,))


def _discard(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as err:  # cleanup must not turn one bad file into a failed run
        log.warning("cannot remove temp file %s: %s", path, err.strerror or err)
