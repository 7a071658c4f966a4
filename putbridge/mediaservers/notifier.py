"""Telling every media server which folders changed: debounced, batched, kept in SQLite.

``notify(paths)`` turns changed library files into the folders worth rescanning (the movie or
show folder under a library root: not one request per file, not the whole library), maps them
for each server and queues them in ``scan_queue``. A thread sends each server its queue once
the first folder has waited ``debounce`` seconds, so a burst of completions is one batch; a
server that is down is tried again with backoff, and a restart picks the queue up where it was.
When every server has scanned a transfer's folders, the transfer becomes ``scanned``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

from putbridge.errors import MediaServerError, PutbridgeError
from putbridge.library.plan import UNSORTED
from putbridge.store import Store
from putbridge.transfers import IllegalTransition, TransferLedger

from .base import MediaServer

log = logging.getLogger("putbridge.mediaservers")

DEFAULT_DEBOUNCE = 5.0
RETRY_BASE = 5.0
RETRY_MAX = 600.0


Root = tuple[str, str]  # (absolute library folder, layout)


def library_roots(libraries: Iterable[object]) -> list[Root]:
    """(absolute path, layout) of each [[library]]: what scan_folders needs to know."""
    return [(str(Path(lib.path).absolute()), lib.layout) for lib in libraries]  # type: ignore[attr-defined]


def scan_folders(paths: Iterable[Path | str], roots: Iterable[Root | Path | str]) -> list[str]:
    """The folders to rescan for these changed files.

    Under a movies or shows library: the folder right below the root (a movie's, or a show's
    whatever season the file is in), except in ``_unsorted/``, where it is the file's own folder.
    Under a mirror library, and anywhere else: the file's own folder (a torrent's folder, not
    the category above it). Folders inside another chosen folder are dropped. Sorted.
    """
    known: list[tuple[tuple[str, ...], str]] = []
    for root in roots:
        path, layout = (root, "movies") if isinstance(root, str | Path) else root
        known.append((PurePosixPath(Path(path).absolute()).parts, layout))
    known.sort(key=lambda item: len(item[0]), reverse=True)
    chosen: set[PurePosixPath] = set()
    for path in paths:
        parts = PurePosixPath(Path(path).absolute()).parts
        parent = PurePosixPath(*parts[:-1]) if len(parts) > 1 else PurePosixPath(*parts)
        root = next(
            ((r, layout) for r, layout in known if parts[: len(r)] == r and len(parts) > len(r)),
            None,
        )
        if root is None or root[1] == "mirror" or len(parts) == len(root[0]) + 1:
            chosen.add(parent)
        elif parts[len(root[0])] == UNSORTED:
            chosen.add(parent)
        else:
            chosen.add(PurePosixPath(*parts[: len(root[0]) + 1]))
    kept = [
        folder
        for folder in chosen
        if not any(other != folder and other in folder.parents for other in chosen)
    ]
    return sorted(str(folder) for folder in kept)


class ScanNotifier:
    """The media-server side of putbridge run: notify(), one sending thread per server (a slow
    server never holds up another), start()/stop()."""

    def __init__(
        self,
        servers: list[MediaServer],
        store: Store,
        *,
        roots: Iterable[Root | Path | str] = (),
        ledger: TransferLedger | None = None,
        debounce: float = DEFAULT_DEBOUNCE,
        now: Callable[[], float] = time.time,
    ) -> None:
        names = [server.name for server in servers]
        if len(set(names)) != len(names):
            raise PutbridgeError(
                f"two [[mediaserver]] entries are both called {names}: give each a name"
            )
        self.servers = {server.name: server for server in servers}
        self.store = store
        self.roots = list(roots)
        self.ledger = ledger
        self.debounce = debounce
        self._now = now
        self._wakes = {name: threading.Event() for name in self.servers}
        # When each server's last batch went out: the next waits a full debounce after it, so no
        # folder is asked twice within one window (a Plex batch of many folders takes a while).
        self._last_sent: dict[str, float] = {}
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.requests = 0  # scan calls made (each may be several HTTP requests)
        self._forget_other_servers()

    def _forget_other_servers(self) -> None:
        """Rows for a server no longer configured (removed or renamed) would wait for ever and
        keep their transfers from being scanned."""
        names = list(self.servers)
        marks = ", ".join("?" * len(names)) or "''"
        with self.store.write() as conn:
            gone = conn.execute(
                f"DELETE FROM scan_queue WHERE server NOT IN ({marks})", names
            ).rowcount
        if gone:
            log.info("dropped %d queued rescans for media servers no longer configured", gone)

    # -- the interface the monitor and the sync use ---------------------------------------

    def notify(
        self, paths: list[Path], *, transfer_id: int | None = None, removed: bool = False
    ) -> list[str]:
        """Queue the folders of these changed files for every server; the folders (bridge
        side). With no server configured, nothing is queued and the transfer is left as is."""
        folders = scan_folders(paths, self.roots)
        if not folders or not self.servers:
            return folders
        now = self._now()
        rows = [
            (name, server.map_path(folder), transfer_id or 0, int(removed), now)
            for name, server in self.servers.items()
            for folder in folders
        ]
        with self.store.write() as conn:
            # Queued again while a scan of it is in flight: ``seq`` moves, so the sender keeps
            # the row for another scan instead of deleting it with the one it just sent.
            conn.executemany(
                "INSERT INTO scan_queue (server, folder, transfer, removed, added_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (server, folder, transfer) DO UPDATE SET "
                "seq = seq + 1, removed = max(removed, excluded.removed)",
                rows,
            )
        log.info("%d folders to rescan on %s", len(folders), ", ".join(self.servers))
        for wake in self._wakes.values():
            wake.set()
        return folders

    def pending(self) -> dict[str, int]:
        return {k: v for k, v in pending_scans(self.store).items() if k in self.servers}

    def last_results(self) -> dict[str, tuple[float, bool, str]]:
        return last_scan_results(self.store)

    def renotify(self) -> int:
        """Transfers that reached the library but were never queued (a crash between the two):
        queue them now. Returns how many."""
        if self.ledger is None or not self.servers:
            return 0
        queued = {row["transfer"] for row in self.store.query("SELECT transfer FROM scan_queue")}
        missed = [
            record
            for record in self.ledger.list(states=["in_library"])
            if record.id not in queued and record.library_paths
        ]
        for record in missed:
            self.notify([Path(p) for p in record.library_paths], transfer_id=record.id)
        return len(missed)

    # -- the threads -----------------------------------------------------------------------

    def start(self) -> None:
        self.renotify()
        for name in self.servers:
            thread = threading.Thread(
                target=self._run, args=(name,), name=f"putbridge-scans-{name}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        for wake in self._wakes.values():
            wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def is_alive(self) -> bool:
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    def running(self) -> bool:
        """Whether any sending thread still runs (after stop(): one stuck on a slow server)."""
        return any(t.is_alive() for t in self._threads)

    def _run(self, name: str) -> None:
        wake = self._wakes[name]
        while not self._stopping.is_set():
            wake.clear()
            try:
                wait = self.send_due(name)
            except Exception:  # a bug of ours: keep the thread, try again later
                log.exception("%s: media-server scans: unexpected error", name)
                wait = RETRY_BASE
            wake.wait(wait)

    def send_due(self, only: str | None = None) -> float:
        """Send each server (or ``only`` that one) its batch if due; seconds until the next."""
        now = self._now()
        next_due = now + 3600
        for name in [only] if only is not None else list(self.servers):
            rows = self.store.query(
                "SELECT folder, transfer, removed, added_at, attempts, next_try, seq "
                "FROM scan_queue WHERE server = ?",
                (name,),
            )
            if not rows:
                continue
            due = max(
                min(row["added_at"] for row in rows) + self.debounce,
                self._last_sent.get(name, 0.0) + self.debounce,
                max(row["next_try"] for row in rows),
            )
            if due <= now:
                due = self._send(name, self.servers[name], rows, now)
            if due is not None:
                next_due = min(next_due, due)
        return max(0.01, next_due - self._now())

    def _send(self, name: str, server: MediaServer, rows: list, now: float) -> float | None:
        folders = sorted({row["folder"] for row in rows})
        removed = any(row["removed"] for row in rows)
        attempts = max(row["attempts"] for row in rows)
        self.requests += 1
        try:
            result = server.scan(folders, removed=removed)
            if not result.ok and not result.deferred:
                raise MediaServerError(result.detail)
        except Exception as err:  # down, refused, or a fault of the server class: retry later
            if not isinstance(err, MediaServerError):
                log.exception("%s: scan failed unexpectedly", name)
            delay = min(RETRY_MAX, RETRY_BASE * 2 ** min(attempts, 16)) * random.uniform(0.5, 1)
            if attempts == 0:
                log.warning("%s: scan not sent (%s); trying again in %.0f s", name, err, delay)
            self._record(name, False, str(err))
            with self.store.write() as conn:
                conn.execute(
                    "UPDATE scan_queue SET attempts = attempts + 1, next_try = ? WHERE server = ?",
                    (now + delay, name),
                )
            return now + delay
        self._last_sent[name] = self._now()
        held = set(result.pending or folders) if result.deferred else set()
        if held:
            log.info("%s: %s; asking again in %.0f s", name, result.detail, self.debounce)
        else:
            log.info("%s: %s", name, result.detail)
            self._record(name, True, result.detail)
        sent = [
            (name, row["folder"], row["transfer"], row["seq"])
            for row in rows
            if row["folder"] not in held
        ]
        with self.store.write() as conn:
            conn.executemany(
                "DELETE FROM scan_queue WHERE server = ? AND folder = ? AND transfer = ? "
                "AND seq = ?",
                sent,
            )
            conn.executemany(
                "UPDATE scan_queue SET next_try = ? WHERE server = ? AND folder = ?",
                [(now + self.debounce, name, folder) for folder in held],
            )
        self._mark_scanned({transfer for _n, _f, transfer, _s in sent if transfer}, name)
        return now + self.debounce if held else None

    def _record(self, name: str, ok: bool, detail: str) -> None:
        with self.store.write() as conn:
            conn.execute(
                "INSERT INTO scan_results (server, at, ok, detail) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(server) DO UPDATE SET at = excluded.at, ok = excluded.ok, "
                "detail = excluded.detail",
                (name, self._now(), int(ok), detail[:500]),
            )

    def _mark_scanned(self, transfers: set[int], server: str) -> None:
        """A transfer whose folders every server has now scanned becomes ``scanned``."""
        if self.ledger is None:
            return
        for transfer in transfers:
            left = self.store.query(
                "SELECT COUNT(*) AS n FROM scan_queue WHERE transfer = ?", (transfer,)
            )[0]["n"]  # rows of servers no longer configured were dropped at start
            if left:
                continue
            try:
                self.ledger.transition(transfer, "scanned", detail=f"rescanned by {server}")
            except (IllegalTransition, KeyError):
                continue  # not in_library (yet, or any more): nothing to record


def pending_scans(store: Store) -> dict[str, int]:
    """Folders waiting to be rescanned, by server (what `putbridge status` shows)."""
    rows = store.query("SELECT server, COUNT(DISTINCT folder) AS n FROM scan_queue GROUP BY server")
    return {row["server"]: row["n"] for row in rows}


def last_scan_results(store: Store) -> dict[str, tuple[float, bool, str]]:
    """Each server's last answer: (time, ok, detail)."""
    rows = store.query("SELECT server, at, ok, detail FROM scan_results")
    return {row["server"]: (row["at"], bool(row["ok"]), row["detail"]) for row in rows}
