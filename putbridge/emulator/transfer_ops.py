"""The transfer half of the Emulator: adding, ticking, retrying, cancelling and cleaning.

A mixin so `Emulator` keeps one flat public API; the state it works on (`lock`, `tree`,
`_transfers`, ...) is created by `Emulator.__init__`.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from .errors import ApiError
from .files import ROOT_ID, FileTree
from .torrents import parse_torrent
from .transfer_intake import build_transfer, materialize
from .transfers import FINISHED, TransferRecord, callback_form

if TYPE_CHECKING:
    from .background import CallbackSender
    from .clock import Clock

log = logging.getLogger(__name__)


class TransferOps:
    lock: threading.RLock
    clock: Clock
    tree: FileTree
    transfer_speed: float
    seed_time: float
    _transfers: dict[int, TransferRecord]
    _active: set[int]
    _next_transfer_id: int
    _dead: list[str]
    _callbacks: CallbackSender

    def record_event(self, event_type: str, when: float | None = None, **fields: Any) -> dict:
        raise NotImplementedError

    # ---- transfers -------------------------------------------------------------------------

    def mark_dead(self, substring: str) -> None:
        """New transfers whose source, name or info-hash contains `substring` end in ERROR."""
        if not substring:
            raise ValueError("substring must not be empty")
        with self.lock:
            self._dead.append(substring)

    def clear_dead(self) -> None:
        with self.lock:
            self._dead.clear()

    def _dead_reason(self, rec: TransferRecord) -> str | None:
        haystack = " ".join(filter(None, (rec.source, rec.name, rec.hash))).lower()
        for substring in self._dead:
            if substring.lower() in haystack:
                if rec.is_torrent:
                    return "Dead torrent: no peers are sharing it"
                return "Download failed: the source is not reachable"
        return None

    def add_transfer(
        self,
        url: str,
        save_parent_id: int = ROOT_ID,
        callback_url: str | None = None,
        client_ip: str | None = None,
    ) -> int:
        """Start a transfer from a magnet or http(s) URL (fetching .torrent/loopback URLs
        first, outside the lock); returns its id."""
        rec = build_transfer(url, save_parent_id, callback_url, client_ip)
        return self._start_transfer(rec)

    def add_torrent(
        self,
        data: bytes,
        save_parent_id: int = ROOT_ID,
        callback_url: str | None = None,
        client_ip: str | None = None,
    ) -> int:
        """Start a transfer from .torrent bytes; ApiError 400 INVALID_TORRENT if malformed."""
        meta = parse_torrent(data)
        rec = build_transfer(None, save_parent_id, callback_url, client_ip, torrent=meta)
        return self._start_transfer(rec)

    def _start_transfer(self, rec: TransferRecord) -> int:
        with self.lock:
            self.tree.require_folder(rec.save_parent_id)
            rec.id = self._next_transfer_id
            self._next_transfer_id += 1
            now = self.clock.now()
            rec.created_at = now
            rec.failure = rec.failure or self._dead_reason(rec)
            rec.schedule(now, self.transfer_speed, self.seed_time)
            self._transfers[rec.id] = rec
            self._active.add(rec.id)
            return rec.id

    def require_transfer(self, transfer_id: int) -> TransferRecord:
        rec = self._transfers.get(transfer_id)
        if rec is None:
            raise ApiError(404, "TRANSFER_NOT_FOUND", f"Transfer {transfer_id} not found")
        return rec

    def transfer_dict(self, transfer_id: int) -> dict:
        with self.lock:
            rec = self.require_transfer(transfer_id)
            exists = rec.file_id is not None and rec.file_id in self.tree.records
            return rec.to_dict(self.clock.now(), exists)

    def transfer_ids(self) -> list[int]:
        with self.lock:
            return list(self._transfers)

    @property
    def transfers(self) -> dict[int, TransferRecord]:
        self.tick()
        with self.lock:
            return dict(self._transfers)

    def retry_transfer(self, transfer_id: int) -> None:
        with self.lock:
            rec = self.require_transfer(transfer_id)
            if rec.status != "ERROR":
                raise ApiError(400, "TRANSFER_INVALID", "Only failed transfers can be retried")
            rec.failure = rec.extra.get("fetch_failure") or self._dead_reason(rec)
            rec.schedule(self.clock.now(), self.transfer_speed, self.seed_time)
            self._active.add(rec.id)

    def cancel_transfers(self, transfer_ids: list[int]) -> list[int]:
        """Remove the given transfers (files already created stay); unknown ids are ignored."""
        with self.lock:
            removed = [tid for tid in transfer_ids if self._transfers.pop(tid, None) is not None]
            self._active.difference_update(removed)
            return removed

    def clean_transfers(self, transfer_ids: list[int] | None = None) -> list[int]:
        """Remove finished (COMPLETED/ERROR) transfers, all of them or among `transfer_ids`."""
        self.tick()
        with self.lock:
            candidates = self._transfers if transfer_ids is None else transfer_ids
            done = [
                tid
                for tid in candidates
                if tid in self._transfers and self._transfers[tid].status in FINISHED
            ]
            return self.cancel_transfers(done)

    def remove_transfers(
        self, transfer_ids: list[int] | None, remove_filter: str | None
    ) -> list[int]:
        self.tick()
        with self.lock:
            if transfer_ids:
                return self.cancel_transfers(transfer_ids)
            if remove_filter == "all":
                return self.cancel_transfers(list(self._transfers))
            if remove_filter == "completed":
                done = [t.id for t in self._transfers.values() if t.status == "COMPLETED"]
                return self.cancel_transfers(done)
            raise ApiError(400, "BadRequest", "Give transfer_ids or remove_filter=all|completed")

    def tick(self) -> None:
        """Advance every active transfer to the clock's current time.

        Runs before every API request, so it must not fail: a transfer whose completion raises
        ends in ERROR (with an error_message and a transfer_error event) and the others go on."""
        callbacks: list[tuple[str, dict[str, str]]] = []
        with self.lock:
            if not self._active:
                return
            now = self.clock.now()
            for tid in list(self._active):
                rec = self._transfers.get(tid)
                if rec is None:
                    self._active.discard(tid)
                    continue
                try:
                    callback = self._advance(rec, now)
                except Exception as err:
                    log.exception("emulator: completing transfer %s failed", tid)
                    self._fail_completion(rec, err)
                    callback = None
                if callback is not None:
                    callbacks.append(callback)
                if rec.status in FINISHED:
                    self._active.discard(tid)
        for url, form in callbacks:
            self._callbacks.send(url, form)

    def _advance(self, rec: TransferRecord, now: float) -> tuple[str, dict[str, str]] | None:
        """Move one transfer to its status at `now`; returns a callback to send, if any."""
        status = rec.status_at(now)
        if status == rec.status:
            return None
        callback = None
        if status == "ERROR":
            rec.error_message = rec.failure or "Transfer failed"
            rec.finished_at = rec.queued_until
            self.record_event(
                "transfer_error",
                when=rec.queued_until,
                source=rec.source,
                transfer_name=rec.name,
            )
        elif status in ("SEEDING", "COMPLETED") and rec.file_id is None:
            at = rec.completing_until
            rec.file_id = materialize(self.tree, rec, at)
            rec.finished_at = at
            rec.status = status
            self.record_event(
                "transfer_completed",
                when=at,
                source=rec.source,
                transfer_name=rec.name,
                file_id=rec.file_id,
                transfer_size=rec.size,
            )
            if rec.callback_url:
                callback = (rec.callback_url, callback_form(rec.to_dict(now, True)))
        rec.status = status
        return callback

    def _fail_completion(self, rec: TransferRecord, err: Exception) -> None:
        reason = err.message if isinstance(err, ApiError) else f"{type(err).__name__}: {err}"
        rec.status = "ERROR"
        rec.file_id = None
        rec.error_message = f"Could not create the transfer's files: {reason}"
        rec.finished_at = rec.completing_until
        self.record_event(
            "transfer_error",
            when=rec.completing_until,
            source=rec.source,
            transfer_name=rec.name,
        )

    def _callback_failed(self, form: dict[str, str], message: str) -> None:
        with self.lock:
            transfer_id = int(form["id"]) if form.get("id", "").isdigit() else None
            self.record_event(
                "transfer_callback_error",
                transfer_id=transfer_id,
                transfer_name=form.get("name"),
                message=message,
            )
