"""The emulated put.io account: files, transfers, events, OOB codes, tokens, faults and stats.

Every change happens under one re-entrant lock. The HTTP layer (app.py) works on `tree`,
`listings` and the transfer records under `lock` too; the Python methods here are the API that
tests, the demo and the CLI use.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .background import CallbackSender, Ticker
from .clock import Clock, RealClock
from .errors import ApiError
from .faults import UNSET, Faults
from .files import ROOT_ID, FileRecord, FileTree
from .listing import ListingStore
from .media import BytesContent, Content, generate_content
from .oob import OobCodes
from .transfer_ops import TransferOps
from .transfers import FIRST_TRANSFER_ID, TransferRecord

DEFAULT_TOKEN = "putbridge-emulator-token"
DEFAULT_LINK_TTL = 4 * 3600.0


def _content(name: str, size: int | None, content: bytes | None) -> Content:
    if content is None:
        return generate_content(name, size)
    if size is not None and size != len(content):
        raise ValueError(f"size {size} does not match the {len(content)} bytes of content")
    return BytesContent(content)


class Emulator(TransferOps):
    """A put.io account in memory. See docs/putio-emulator.md."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        clock: Clock | None = None,
        latency: float = 0.0,
        error_rate: float = 0.0,
        rate_limit: tuple[int, float] | None = None,
        random_seed: int | None = 0,
        transfer_speed: float = 50_000_000,
        seed_time: float = 0.0,
        *,
        link_ttl: float = DEFAULT_LINK_TTL,
        user_id: int = 1,
        username: str = "emulator",
        disk_size: int = 10 * 1024**4,
    ) -> None:
        if not token:
            raise ValueError("token must not be empty")
        self.token = token
        self.clock: Clock = clock if clock is not None else RealClock()
        self.transfer_speed = float(transfer_speed)
        self.seed_time = float(seed_time)
        self.link_ttl = float(link_ttl)
        self.user_id = user_id
        self.username = username
        self.disk_size = disk_size
        self.faults = Faults(latency, error_rate, rate_limit, random_seed)
        self.secret = secrets.token_bytes(32)
        self.lock = threading.RLock()
        self.tree = FileTree(self.clock.now())
        self.listings = ListingStore()
        self.oob = OobCodes(random_seed)
        self.settings: dict[str, Any] = {}  # overrides of the account settings
        self.app_config: dict[str, Any] = {}  # the /v2/config key/value store
        self._transfers: dict[int, TransferRecord] = {}
        self._active: set[int] = set()
        self._next_transfer_id = FIRST_TRANSFER_ID
        self._events: list[dict] = []
        self._next_event_id = 1
        self._tokens: dict[str, int] = {token: 1}
        self._dead: list[str] = []
        self._stats_lock = threading.Lock()
        self._requests = 0
        self._by_route: Counter[str] = Counter()
        self._callbacks = CallbackSender(self._callback_failed)
        self._ticker = Ticker(self.tick)
        self._closed = False
        self.clock.subscribe(self.tick)

    # ---- lifecycle -------------------------------------------------------------------------

    def start_background(self) -> None:
        """Start the ticker when the clock is real (EmulatorServer.start calls this)."""
        if not self.clock.is_manual and not self._closed:
            self._ticker.start()

    def stop_background(self) -> None:
        self._ticker.stop()
        self._callbacks.stop()

    def close(self) -> None:
        """Stop the background threads (ticker, callback sender). Idempotent."""
        self._closed = True
        self.clock.unsubscribe(self.tick)
        self.stop_background()

    def wait_callbacks(self, timeout: float = 10.0) -> bool:
        """Wait until every queued callback_url POST was attempted."""
        return self._callbacks.wait_idle(timeout)

    # ---- files -----------------------------------------------------------------------------

    def add_folder(self, name: str, parent_id: int = ROOT_ID) -> int:
        with self.lock:
            return self.tree.add_folder(name, parent_id, self.clock.now()).id

    def add_file(
        self,
        name: str,
        parent_id: int = ROOT_ID,
        size: int | None = None,
        content: bytes | None = None,
        file_type: str | None = None,
    ) -> int:
        body = _content(name, size, content)
        with self.lock:
            return self.tree.add_file(name, parent_id, body, self.clock.now(), file_type).id

    def add_path(self, path: str, size: int | None = None, content: bytes | None = None) -> int:
        """Add the file at `path` (e.g. "/Movies/Foo (2010)/Foo.mkv"), creating folders."""
        parts = [part for part in path.split("/") if part]
        if not parts:
            raise ValueError(f"not a file path: {path!r}")
        body = _content(parts[-1], size, content)
        with self.lock:
            now = self.clock.now()
            parent_id = self.tree.ensure_folders(parts[:-1], ROOT_ID, now)
            return self.tree.add_file(parts[-1], parent_id, body, now).id

    def file_by_path(self, path: str) -> int | None:
        with self.lock:
            return self.tree.resolve(path)

    def path_of(self, file_id: int) -> str:
        with self.lock:
            return self.tree.path_of(file_id)

    def delete_file(self, file_id: int) -> None:
        with self.lock:
            self.tree.delete(file_id)

    @property
    def files(self) -> dict[int, FileRecord]:
        with self.lock:
            return dict(self.tree.records)

    def upload_file(self, name: str, data: bytes, parent_id: int = ROOT_ID) -> int:
        """Store an uploaded regular file and record an "upload" event."""
        with self.lock:
            rec = self.tree.add_file(name, parent_id, BytesContent(data), self.clock.now())
            self.record_event("upload", file_id=rec.id, file_name=rec.name, file_size=rec.size)
            return rec.id

    def populate_sample(self) -> None:
        from .seed import populate_sample

        populate_sample(self)

    def load_seed(self, seed: str | Path | dict) -> None:
        from .seed import load_seed

        load_seed(self, seed)

    # ---- events ----------------------------------------------------------------------------

    def record_event(self, event_type: str, when: float | None = None, **fields: Any) -> dict:
        with self.lock:
            at = self.clock.now() if when is None else when
            event = {
                "id": self._next_event_id,
                "type": event_type,
                "user_id": self.user_id,
                "created_at": datetime.fromtimestamp(int(at), UTC).strftime("%Y-%m-%d %H:%M:%S"),
                **fields,
            }
            self._next_event_id += 1
            self._events.append(event)
            return event

    @property
    def events(self) -> list[dict]:
        """All events, oldest first (copies)."""
        with self.lock:
            return [dict(event) for event in self._events]

    def list_events(self, per_page: int = 50, before: int | None = None) -> tuple[list[dict], bool]:
        """Newest first, strictly older than `before`; (events, has_more)."""
        with self.lock:
            older = [e for e in reversed(self._events) if before is None or e["id"] < before]
            return [dict(e) for e in older[:per_page]], len(older) > per_page

    def delete_events(self, event_id: int | None = None) -> None:
        with self.lock:
            self._events = [e for e in self._events if event_id is not None and e["id"] != event_id]

    # ---- tokens and OOB --------------------------------------------------------------------

    def token_id(self, token: str | None) -> int | None:
        with self.lock:
            return self._tokens.get(token or "")

    def add_token(self, token: str) -> None:
        """Make `token` another valid token of the account."""
        if not token:
            raise ValueError("token must not be empty")
        with self.lock:
            self._tokens.setdefault(token, len(self._tokens) + 1)

    def create_token(self) -> str:
        """Mint another valid token for the account."""
        token = secrets.token_urlsafe(24)
        self.add_token(token)
        return token

    def pending_codes(self) -> list[str]:
        with self.lock:
            return self.oob.pending(self.clock.now())

    def approve_code(self, code: str) -> str:
        """Link an OOB code to the account token; returns the token. ApiError 404 if unknown."""
        with self.lock:
            return self.oob.approve(code, self.token, self.clock.now())

    # ---- faults and stats ------------------------------------------------------------------

    def set_faults(
        self,
        latency: float | None = None,
        error_rate: float | None = None,
        rate_limit: tuple[int, float] | None | object = UNSET,
    ) -> None:
        self.faults.configure(latency=latency, error_rate=error_rate, rate_limit=rate_limit)

    def count_request(self, route: str) -> None:
        with self._stats_lock:
            self._requests += 1
            self._by_route[route] += 1

    @property
    def stats(self) -> dict:
        with self._stats_lock:
            return {"requests": self._requests, "by_route": dict(self._by_route)}

    def reset_stats(self) -> None:
        with self._stats_lock:
            self._requests = 0
            self._by_route.clear()

    # ---- signed links ----------------------------------------------------------------------

    def sign(self, kind: str, file_id: int, expires: int) -> str:
        message = f"{kind}:{file_id}:{expires}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()[:32]

    def link_expiry(self) -> int:
        return int(time.time() + self.link_ttl)

    def check_signature(self, kind: str, file_id: int, expires: int, signature: str) -> None:
        if not hmac.compare_digest(self.sign(kind, file_id, expires), signature):
            raise ApiError(403, "InvalidSignature", "The link signature is not valid")
        if expires < time.time():
            raise ApiError(410, "LINK_EXPIRED", "The link has expired")
