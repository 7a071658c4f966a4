"""Sending recorded inputs to put.io exactly once: TransferService and its helpers.

The rule that keeps put.io free of duplicates: a row's ``attempts`` is bumped *before* a
submission is sent and cleared when its answer is recorded. A row still ``received`` with
attempts > 0 was sent once with no recorded outcome (a crash, a timeout, a 5xx): before sending it
again, put.io's transfer list is searched for its info-hash or URL.
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable

from putbridge.errors import (
    AuthError,
    IntakeError,
    NotFound,
    PutbridgeError,
    PutioError,
    RateLimited,
    ShuttingDown,
    TransientError,
)
from putbridge.intake.sources import Source, normalize_url
from putbridge.putio import PutioClient, Transfer
from putbridge.transfers import IllegalTransition, TransferLedger, TransferRecord

log = logging.getLogger("putbridge.intake")

_STRIPES = 64
RETRY_BASE = 5.0
RETRY_MAX = 300.0


def is_permanent(err: PutioError) -> bool:
    """put.io refused the input itself (a 4xx about it): sending it again cannot help."""
    if isinstance(err, AuthError | RateLimited | NotFound | TransientError):
        return False
    return err.status_code is not None and 400 <= err.status_code < 500


def check_target(path: str) -> str:
    """A put.io folder path: absolute, no empty, '.' or '..' parts, no control characters."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise IntakeError(f"the put.io target {path!r} must be an absolute path like /Movies")
    parts = [part for part in path.split("/") if part]
    if any(part in (".", "..") for part in parts) or any(ord(c) < 32 for c in path):
        raise IntakeError(f"the put.io target {path!r} is not a plain folder path")
    if any(len(part.encode("utf-8")) > 255 for part in parts):
        raise IntakeError("a folder name in the put.io target is longer than 255 bytes")
    return "/" + "/".join(parts)


class FolderResolver:
    """put.io folder paths to ids, creating missing folders; remembered until forget()."""

    def __init__(self, client: PutioClient) -> None:
        self.client = client
        self._ids: dict[str, int] = {"/": 0}
        self._lock = threading.Lock()

    def folder_id(self, path: str) -> int:
        path = check_target(path)
        with self._lock:
            if path in self._ids:
                return self._ids[path]
            current, walked = 0, ""
            for part in path.strip("/").split("/"):
                walked += "/" + part
                if walked in self._ids:
                    current = self._ids[walked]
                    continue
                child = self.client.find_child(current, part)
                if child is None:
                    log.info("creating the put.io folder %s", walked)
                    child = self.client.create_folder(part, current)
                elif not child.is_folder:
                    raise IntakeError(f"the put.io target {path}: {walked} is a file, not a folder")
                current = self._ids[walked] = child.id
            return current

    def forget(self) -> None:
        with self._lock:
            self._ids = {"/": 0}


def keys_of(transfer: Transfer) -> set[str]:
    """The ledger keys a put.io transfer answers to: its info-hash, its source URL."""
    keys = set()
    if transfer.hash:
        keys.add(f"btih:{transfer.hash.lower()}")
    if transfer.source and not transfer.source.lower().startswith("magnet:"):
        try:
            keys.add(f"url:{normalize_url(transfer.source)}")
        except PutbridgeError:
            pass
    return keys


def matches(record: TransferRecord, transfer: Transfer) -> bool:
    """Is this put.io transfer the one this row asked for?"""
    return record.key in keys_of(transfer)


class TransferService:
    """Add inputs (deduplicated), submit them to put.io, list them. Safe between threads.

    ``add(..., wait=True)`` submits in the caller's thread (the blackhole and the CLI, which need
    the outcome); ``wait=False`` queues the row for the background workers (the web API answers
    202 at once). Rows that fail for a passing reason are retried by the workers with backoff.
    """

    def __init__(
        self,
        client: PutioClient,
        ledger: TransferLedger,
        *,
        default_target: str = "/",
        callback_url: str | None = None,
        workers: int = 4,
        on_submitted: Callable[[], None] | None = None,
        on_poke: Callable[[], None] | None = None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.default_target = check_target(default_target)
        self.callback_url = callback_url
        self.folders = FolderResolver(client)
        self._workers_wanted = workers
        self._on_submitted = on_submitted or (lambda: None)
        self._on_poke = on_poke or (lambda: None)
        self._now = now
        self._stripes = [threading.Lock() for _ in range(_STRIPES)]
        self._due: list[tuple[float, int, int]] = []  # (when, attempt, record id)
        # How many jobs each record has in _due or in a worker's hands.
        self._queued: Counter[int] = Counter()
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- the facade ------------------------------------------------------------------------

    def add(
        self, source: Source, *, target: str | None = None, origin: str, wait: bool = True
    ) -> tuple[TransferRecord, bool]:
        target = check_target(target) if target else self.default_target
        record, created = self.ledger.receive(source, target=target, origin=origin)
        if created:
            # The name, not the key: a URL's key may hold a tracker passkey.
            log.info("received %s (%s) from %s -> %s", record.name, record.kind, origin, target)
        elif record.state == "received":  # ours, not sent yet: a retry, not news
            log.debug("transfer %d is waiting to be sent: %s", record.id, record.name)
        else:
            log.info("duplicate of transfer %d (%s): %s", record.id, record.state, record.name)
        if record.state == "received":
            if wait:
                record = self.submit(record.id)
            elif created or not self._is_queued(record.id):  # a repeat does not jump a backoff
                self._schedule(record.id, 0.0, 0)
        return record, created

    def get(self, record_id: int) -> TransferRecord | None:
        return self.ledger.get(record_id)

    def list(
        self, *, limit: int = 100, states: Iterable[str] | None = None
    ) -> list[TransferRecord]:
        return self.ledger.list(states=states, limit=limit)

    def poke(self) -> None:
        """put.io called back: look at the transfers now."""
        self._on_poke()

    # -- submitting ------------------------------------------------------------------------

    def submit(self, record_id: int) -> TransferRecord:
        """Send one ``received`` row to put.io (no-op for any other state).

        Raises IntakeError when put.io refuses it (the row is then failed with the reason), and
        the PutioError when put.io cannot answer now (the row stays received).
        """
        with self._stripes[record_id % _STRIPES]:
            record = self.ledger.get(record_id)
            if record is None or record.state != "received":
                return record
            if record.attempts > 0:
                found = self._find_on_putio(record)
                if found is not None:
                    return self._submitted(record, found, "found on put.io after a retry")
            try:
                parent_id = self.folders.folder_id(record.target)
            except IntakeError as err:
                self.ledger.transition(record.id, "failed", reason=str(err), detail=str(err))
                raise
            if not self.ledger.attempt(record.id, lease=self._lease()):
                log.debug("transfer %d is being sent by another process", record.id)
                return self.ledger.get(record.id)
            try:
                transfer = self._send(record, parent_id)
            except NotFound as err:  # the target folder went away: find or make it again
                self.ledger.release(record.id)
                self.folders.forget()
                raise TransientError(f"put.io lost the target folder: {err}") from err
            except PutioError as err:
                if not is_permanent(err):
                    self.ledger.release(record.id)
                    raise
                reason = f"put.io refused it: {err.error_message or err}"
                self.ledger.transition(record.id, "failed", reason=reason, detail=reason)
                log.warning("transfer %d (%s) failed: %s", record.id, record.name, reason)
                raise IntakeError(reason) from err
            return self._submitted(record, transfer, "sent to put.io")

    def _send(self, record: TransferRecord, parent_id: int) -> Transfer:
        if record.kind == "torrent":
            data = self.ledger.torrent_bytes(record.id)
            if not data:
                raise IntakeError(f"transfer {record.id} lost its .torrent bytes")
            return self.client.upload_torrent(
                data,
                record.filename or "upload.torrent",
                parent_id=parent_id,
                callback_url=self.callback_url,
            )
        return self.client.add_transfer(
            record.url or "", save_parent_id=parent_id, callback_url=self.callback_url
        )

    def _lease(self) -> float:
        """How long a claim holds: the longest one send can take (rate-limit waits included)."""
        return self.client.max_rate_limit_wait + 2 * self.client.timeout + 30

    def _submitted(self, record: TransferRecord, transfer: Transfer, how: str) -> TransferRecord:
        current = self.ledger.get(record.id)
        if current is not None and current.state != "received":
            return current  # another sender (another process) recorded it first
        other = self.ledger.by_putio_id(transfer.id)
        if other is not None and other.id != record.id:
            # put.io answered with a transfer another row already follows (it merges equal
            # torrents): this row is that one's duplicate.
            reason = f"the same put.io transfer as transfer {other.id}"
            log.info("transfer %d (%s): %s", record.id, record.name, reason)
            return self.ledger.transition(record.id, "cancelled", reason=reason, detail=reason)
        try:
            done = self.ledger.transition(
                record.id,
                "submitted",
                putio_id=transfer.id,
                putio_status=transfer.status,
                torrent=None,
                attempts=0,
                sending_until=None,
                detail=how,
            )
        except IllegalTransition:  # recorded by another process a moment ago
            return self.ledger.get(record.id)
        log.info(
            "transfer %d %s as put.io transfer %d: %s", record.id, how, transfer.id, record.name
        )
        self._on_submitted()
        return done

    def _find_on_putio(self, record: TransferRecord) -> Transfer | None:
        for transfer in self.client.iter_transfers():
            if matches(record, transfer):
                return transfer
        return None

    def recover(self) -> int:
        """After a restart: settle rows sent once with no recorded outcome (one listing for all)
        and queue every row still waiting to be sent. Returns how many were queued."""
        waiting = self.ledger.list(states=["received"])
        unsure = [record for record in waiting if record.attempts > 0]
        if unsure:
            index = {key: t for t in self.client.iter_transfers() for key in keys_of(t)}
            for record in unsure:
                found = index.get(record.key)
                with self._stripes[record.id % _STRIPES]:
                    current = self.ledger.get(record.id)
                    if current is None or current.state != "received":
                        continue
                    if found is not None:
                        self._submitted(current, found, "found on put.io after a restart")
                    else:  # never reached put.io: send it as new, without asking again
                        self.ledger.update(record.id, attempts=0, sending_until=None)
        queued = 0
        for record in self.ledger.list(states=["received"]):
            self._schedule(record.id, 0.0, 0)
            queued += 1
        return queued

    # -- background workers ----------------------------------------------------------------

    def start(self) -> None:
        for number in range(self._workers_wanted):
            thread = threading.Thread(
                target=self._work, name=f"putbridge-submit-{number}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = [t for t in self._threads if t.is_alive()]

    def running(self) -> bool:
        """Whether any worker still runs (after stop(): one that outlived the wait)."""
        return any(t.is_alive() for t in self._threads)

    def is_alive(self) -> bool:
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    def _is_queued(self, record_id: int) -> bool:
        with self._cond:
            return self._queued[record_id] > 0

    def pending(self) -> int:
        with self._cond:
            return len(self._due)

    def _schedule(self, record_id: int, delay: float, attempt: int) -> None:
        with self._cond:
            heapq.heappush(self._due, (self._now() + delay, attempt, record_id))
            self._queued[record_id] += 1
            self._cond.notify()

    def sweep(self, min_age: float = 30.0) -> int:
        """Queue rows left ``received`` by someone else (a `putbridge add` that met put.io down,
        a blackhole drop whose file was removed before a retry): nothing waits for a restart."""
        cutoff = time.time() - min_age
        stale = [
            record.id
            for record in self.ledger.list(states=["received"])
            if record.updated_at < cutoff
        ]
        with self._cond:
            stale = [record_id for record_id in stale if record_id not in self._queued]
        for record_id in stale:
            self._schedule(record_id, 0.0, 0)
        return len(stale)

    def _next(self) -> tuple[int, int] | None:
        with self._cond:
            while not self._stopping.is_set():
                if self._due and self._due[0][0] <= self._now():
                    _when, attempt, record_id = heapq.heappop(self._due)
                    return record_id, attempt
                wait = self._due[0][0] - self._now() if self._due else None
                self._cond.wait(wait)
            return None

    def _work(self) -> None:
        while (job := self._next()) is not None:
            record_id, attempt = job
            try:
                self._send_queued(record_id, attempt)
            finally:
                with self._cond:
                    self._queued[record_id] -= 1
                    if self._queued[record_id] <= 0:
                        del self._queued[record_id]

    def _send_queued(self, record_id: int, attempt: int) -> None:
        try:
            self.submit(record_id)
        except (IntakeError, ShuttingDown):
            return  # failed and recorded, or stopping
        except PutbridgeError as err:
            delay = min(RETRY_MAX, RETRY_BASE * 2**attempt) * random.uniform(0.5, 1.0)
            if attempt == 0:
                log.warning(
                    "transfer %d not sent yet (%s): trying again in %.0f s", record_id, err, delay
                )
            self._schedule(record_id, delay, attempt + 1)
        except Exception:
            log.exception("transfer %d: unexpected error while sending it", record_id)
            self._schedule(record_id, RETRY_MAX, attempt + 1)
