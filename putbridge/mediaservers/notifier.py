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
from putbridge.store import Store
from putbridge.transfers import IllegalTransition, TransferLedger

from .base import MediaServer

log = logging.getLogger("putbridge.mediaservers")

DEFAULT_DEBOUNCE = 5.0
RETRY_BASE = 5.0
RETRY_MAX = 600.0


def scan_folders(paths: Iterable[Path | str], roots: Iterable[Path | str]) -> list[str]:
    """The folders to rescan for these changed files: under a library root, the folder right
    below it (a movie's or a show's, whatever season the file is in); elsewhere the file's own
    folder. Folders inside another chosen folder are dropped. Sorted."""
    root_parts = sorted((PurePosixPath(r).parts for r in roots), key=len, reverse=True)
    chosen: set[PurePosixPath] = set()
    for path in paths:
        parts = PurePosixPath(path).parts
        root = next((r for r in root_parts if parts[: len(r)] == r and len(parts) > len(r)), None)
        if root is None:
            chosen.add(PurePosixPath(*parts[:-1]) if len(parts) > 1 else PurePosixPath(*parts))
        elif len(parts) == len(root) + 1:  # a file right in the root (mirror layout)
            chosen.add(PurePosixPath(*root))
        else:
            chosen.add(PurePosixPath(*parts[: len(root) + 1]))
    kept = [
        folder
        for folder in chosen
        if not any(other != folder and other in folder.parents for other in chosen)
    ]
    return sorted(str(folder) for folder in kept)


class ScanNotifier:
    """The media-server side of putbridge run: notify(), a sending thread, start()/stop()."""

    def __init__(
        self,
        servers: list[MediaServer],
        store: Store,
        *,
        roots: Iterable[Path | str] = (),
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
        self.roots = [str(root) for root in roots]
        self.ledger = ledger
        self.debounce = debounce
        self._now = now
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.requests = 0  # scan calls made (each may be several HTTP requests)

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
            conn.executemany(
                "INSERT OR IGNORE INTO scan_queue (server, folder, transfer, removed, added_at) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
        log.info("%d folders to rescan on %s", len(folders), ", ".join(self.servers))
        self._wake.set()
        return folders

    def pending(self) -> dict[str, int]:
        return pending_scans(self.store)

    def last_results(self) -> dict[str, tuple[float, bool, str]]:
        return last_scan_results(self.store)

    # -- the thread ------------------------------------------------------------------------

    def start(self) -> None:
        if not self.servers:
            return
        self._thread = threading.Thread(target=self._run, name="putbridge-scans", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                wait = self.send_due()
            except Exception:  # a bug of ours: keep the thread, try again later
                log.exception("media-server scans: unexpected error")
                wait = RETRY_BASE
            self._wake.wait(wait)

    def send_due(self) -> float:
        """Send every server whose batch is due; seconds until the next one is (or an hour)."""
        now = self._now()
        next_due = now + 3600
        for name, server in self.servers.items():
            rows = self.store.query(
                "SELECT folder, transfer, removed, added_at, attempts, next_try FROM scan_queue "
                "WHERE server = ?",
                (name,),
            )
            if not rows:
                continue
            due = max(
                min(row["added_at"] for row in rows) + self.debounce,
                max(row["next_try"] for row in rows),
            )
            if due > now:
                next_due = min(next_due, due)
                continue
            retry_at = self._send(name, server, rows, now)
            if retry_at is not None:
                next_due = min(next_due, retry_at)
        return max(0.01, next_due - self._now())

    def _send(self, name: str, server: MediaServer, rows: list, now: float) -> float | None:
        folders = sorted({row["folder"] for row in rows})
        removed = any(row["removed"] for row in rows)
        attempts = max(row["attempts"] for row in rows)
        self.requests += 1
        try:
            result = server.scan(folders, removed=removed)
        except MediaServerError as err:
            delay = min(RETRY_MAX, RETRY_BASE * 2**attempts) * random.uniform(0.5, 1.0)
            if attempts == 0:
                log.warning("%s: scan not sent (%s); trying again in %.0f s", name, err, delay)
            self._record(name, False, str(err))
            with self.store.write() as conn:
                conn.execute(
                    "UPDATE scan_queue SET attempts = attempts + 1, next_try = ? WHERE server = ?",
                    (now + delay, name),
                )
            return now + delay
        held = set(result.pending or folders) if result.deferred else set()
        if held:
            log.info("%s: %s; asking again in %.0f s", name, result.detail, self.debounce)
        else:
            log.info("%s: %s", name, result.detail)
            self._record(name, result.ok, result.detail)
        sent = [(name, row["folder"], row["transfer"]) for row in rows if row["folder"] not in held]
        with self.store.write() as conn:
            conn.executemany(
                "DELETE FROM scan_queue WHERE server = ? AND folder = ? AND transfer = ?", sent
            )
            conn.executemany(
                "UPDATE scan_queue SET next_try = ? WHERE server = ? AND folder = ?",
                [(now + self.debounce, name, folder) for folder in held],
            )
        self._mark_scanned({transfer for _name, _folder, transfer in sent if transfer}, name)
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
            )[0]["n"]
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
