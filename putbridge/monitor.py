"""Following transfers on put.io until their files are in the library.

One thread polls ``transfers/list`` (every ``poll_active`` seconds while something is on its way,
``poll_idle`` when nothing is) and wakes at once when put.io calls back. Each poll moves the rows
along the state machine; a transfer that finished is synced into the library (only its own
subtree), its new paths recorded and handed to the media-server notifier.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from putbridge.config import TransferSettings
from putbridge.errors import NotFound, PutbridgeError, ShuttingDown
from putbridge.intake.submit import keys_of
from putbridge.putio import PutioClient, Transfer
from putbridge.store import Store
from putbridge.transfers import WATCHED_STATES, TransferLedger, TransferRecord

log = logging.getLogger("putbridge.transfers")

_ADOPT_AFTER_KEY = "transfers.adopt_after_id"
# The least time between the starts of two polls, however many callbacks arrive.
MIN_GAP = 0.5


class Notifier(Protocol):
    """Told which library paths changed (the media-server issue makes it rescan them)."""

    def notify(
        self, paths: list[Path], *, transfer_id: int | None = None, removed: bool = False
    ) -> object: ...


class LogNotifier:
    """No media server configured: say what would be rescanned."""

    def notify(
        self, paths: list[Path], *, transfer_id: int | None = None, removed: bool = False
    ) -> None:
        if paths:
            log.info("no media server configured: %d new library files not announced", len(paths))


class SubtreeSync(Protocol):
    def sync_subtree(self, folder_id: int): ...


class TransferMonitor:
    """Polls put.io for the transfers in the ledger; start()/stop()/wake()."""

    def __init__(
        self,
        client: PutioClient,
        ledger: TransferLedger,
        library: SubtreeSync,
        *,
        settings: TransferSettings | None = None,
        notifier: Notifier | None = None,
        store: Store | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_poll: Callable[[], object] | None = None,
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.library = library
        self.settings = settings or TransferSettings()
        self.notifier = notifier or LogNotifier()
        self.store = store or ledger.store
        self._clock = clock
        self._on_poll = on_poll or (lambda: None)
        self._wake = threading.Event()
        self._poke = False  # wake() was called: poll soon
        self._hurry = False  # hurry() was called: poll at the active pace
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_ok: float | None = None  # clock time of the last poll put.io answered
        self.last_error: str | None = None
        self.polls = 0

    # -- the thread ------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="putbridge-monitor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        """Poll now (put.io called back): at once, or MIN_GAP after the last poll began, so a
        burst of callbacks is one poll."""
        self._poke = True
        self._wake.set()

    def hurry(self) -> None:
        """A transfer was just sent: poll at the active pace from now on (no extra poll: a
        transfer just added has nothing to report yet)."""
        self._hurry = True
        self._wake.set()

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            self._wake.clear()
            self._poke = self._hurry = False
            began = self._clock()
            try:
                active = self.check_once()
                failures = 0
                interval = self.settings.poll_active if active else self.settings.poll_idle
            except ShuttingDown:
                return
            except PutbridgeError as err:
                failures += 1
                if failures == 1:
                    log.warning("cannot follow transfers on put.io: %s", err)
                self.last_error = str(err)
                interval = min(self.settings.poll_idle, self.settings.poll_active * 2**failures)
            except Exception:
                log.exception("transfer monitor: unexpected error")
                interval = self.settings.poll_idle
            self._wait(began, interval)

    def _wait(self, began: float, interval: float) -> None:
        """Until ``began + interval``, brought forward by wake() or hurry()."""
        due = began + interval
        while not self._stopping.is_set():
            remaining = due - self._clock()
            if remaining <= 0 or not self._wake.wait(remaining):
                return
            self._wake.clear()
            if self._poke:
                due = min(due, began + MIN_GAP)
            elif self._hurry:
                due = min(due, began + self.settings.poll_active)
            self._poke = self._hurry = False

    # -- one poll --------------------------------------------------------------------------

    def check_once(self) -> bool:
        """Bring every followed row up to date with put.io; True while any is still active."""
        try:
            self._on_poll()
        except PutbridgeError as err:
            log.warning("before polling put.io: %s", err)
        # Rows first, then put.io's list: every row read was sent before the listing began, so
        # one missing from it really is gone (not just sent a moment after the snapshot).
        # Failed rows too: someone may retry the transfer on put.io by hand.
        followed = self.ledger.list(states=(*WATCHED_STATES, "failed"))
        transfers = {t.id: t for t in self.client.iter_transfers()}
        self.polls += 1
        self.last_ok, self.last_error = self._clock(), None
        if self.settings.follow == "all":
            self._adopt(transfers)
        for record in followed:
            if record.putio_id is not None:
                self._each(record, self._follow, transfers.get(record.putio_id))
        for record in self.ledger.list(states=["completed"]):
            self._each(record, self._to_library)
        return bool(self.ledger.list(states=("received", *WATCHED_STATES), limit=1))

    def _each(self, record: TransferRecord, step: Callable[..., None], *args: object) -> None:
        """One row's step: its failure is that row's, never the whole poll's."""
        try:
            step(record, *args)
        except ShuttingDown:
            raise
        except PutbridgeError as err:
            log.warning(
                "transfer %d (%s): %s; trying again at the next poll", record.id, record.name, err
            )

    def _adopt(self, transfers: dict[int, Transfer]) -> None:
        """Follow transfers started on put.io by hand. On the very first poll, the ones that
        had already finished are left to the full sync (no burst of old work)."""
        mark = self.store.get_meta(_ADOPT_AFTER_KEY)
        if mark is None:
            mark = str(max(transfers, default=0))
            self.store.set_meta(_ADOPT_AFTER_KEY, mark)
        after = int(mark)
        # Ours, but put.io's answer is not written down yet (a send in flight, or one a crash
        # interrupted): the submitter links those, they are not someone else's.
        sending = {record.key for record in self.ledger.list(states=["received"])}
        known = self.ledger.putio_ids()  # one query, not one per transfer
        for transfer in transfers.values():
            if transfer.id in known or (transfer.id <= after and transfer.is_terminal):
                continue
            if sending and sending & keys_of(transfer):
                continue
            key = f"btih:{transfer.hash.lower()}" if transfer.hash else f"putio:{transfer.id}"
            if self.ledger.adopt(
                key=key,
                kind=(transfer.type or "transfer").lower(),
                name=transfer.name,
                target=f"putio:{transfer.save_parent_id}",
                putio_id=transfer.id,
            ):
                log.info(
                    "following put.io transfer %d started elsewhere: %s", transfer.id, transfer.name
                )

    def _follow(self, record: TransferRecord, transfer: Transfer | None) -> None:
        if record.state == "failed" and (transfer is None or transfer.status == "ERROR"):
            return  # still failed (or gone): nothing new
        if transfer is None:
            if record.state == "completed":
                return  # cleaned on put.io after finishing: its files are still there
            try:
                transfer = self.client.get_transfer(record.putio_id)
            except NotFound:
                transfer = None
        if transfer is None:
            log.info("transfer %d (%s) is gone from put.io", record.id, record.name)
            self.ledger.transition(
                record.id, "cancelled", reason="removed from put.io", detail="gone from put.io"
            )
            return
        if transfer.status == "ERROR":
            self._failed(record, transfer)
        elif transfer.is_finished:
            if record.state != "completed":
                self.ledger.transition(
                    record.id,
                    "completed",
                    file_id=transfer.file_id,
                    putio_status=transfer.status,
                    percent=100,
                    detail=transfer.status,
                )
                log.info("transfer %d completed on put.io: %s", record.id, record.name)
        else:
            percent = _percent(transfer)
            if record.state == "failed" or (
                record.state == "submitted" and transfer.status != "WAITING"
            ):
                self.ledger.transition(
                    record.id,
                    "downloading",
                    putio_status=transfer.status,
                    percent=percent,
                    detail=transfer.status,
                )
            elif (record.putio_status, record.percent) != (transfer.status, percent):
                self.ledger.update(record.id, putio_status=transfer.status, percent=percent)

    def _failed(self, record: TransferRecord, transfer: Transfer) -> None:
        reason = transfer.error_message or transfer.status_message or "put.io reported an error"
        if record.retries < self.settings.retries:
            log.info(
                "transfer %d failed on put.io (%s): retry %d of %d",
                record.id,
                reason,
                record.retries + 1,
                self.settings.retries,
            )
            self.client.retry_transfer(transfer.id)
            self.ledger.update(record.id, retries=record.retries + 1, putio_status="ERROR")
            return
        self.ledger.transition(
            record.id, "failed", reason=reason, putio_status="ERROR", detail=reason
        )
        log.warning("transfer %d failed on put.io: %s (%s)", record.id, record.name, reason)

    def _to_library(self, record: TransferRecord) -> None:
        if record.file_id is None:
            return
        try:
            report = self.library.sync_subtree(record.file_id)
        except NotFound:
            reason = "its files were removed from put.io before they reached the library"
            self.ledger.transition(record.id, "failed", reason=reason, detail=reason)
            log.warning("transfer %d (%s): %s", record.id, record.name, reason)
            return
        if not report.ok:
            log.warning("transfer %d: not all of it reached the library; trying again", record.id)
            return
        paths = [Path(p) for p in report.changed]
        if not paths:
            log.warning(
                "transfer %d (%s) wrote nothing into the library: is its put.io folder inside a "
                "[[library]] source?",
                record.id,
                record.name,
            )
        self.ledger.transition(
            record.id, "in_library", library_paths=paths, detail=f"{len(paths)} library files"
        )
        log.info("transfer %d is in the library: %d files (%s)", record.id, len(paths), record.name)
        self.notifier.notify(paths, transfer_id=record.id)
        if self.settings.clean and record.putio_id is not None:
            self.client.clean_transfers([record.putio_id])


def _percent(transfer: Transfer) -> int | None:
    if transfer.percent_done is None:
        return None
    return max(0, min(100, int(transfer.percent_done)))
