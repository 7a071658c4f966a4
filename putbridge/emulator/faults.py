"""Fault knobs: latency per request, a 5xx rate and a rate-limit budget (a wall-clock window)."""

from __future__ import annotations

import math
import random
import threading
import time

from .errors import ApiError

UNSET: object = object()
MAX_LATENCY = 300.0


class Faults:
    def __init__(
        self,
        latency: float = 0.0,
        error_rate: float = 0.0,
        rate_limit: tuple[int, float] | None = None,
        random_seed: int | None = 0,
    ) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(random_seed)
        self.latency = 0.0
        self.error_rate = 0.0
        self.rate_limit: tuple[int, float] | None = None
        self._window_start = 0.0
        self._window_count = 0
        self.configure(latency=latency, error_rate=error_rate, rate_limit=rate_limit)

    def configure(
        self,
        latency: float | None = None,
        error_rate: float | None = None,
        rate_limit: tuple[int, float] | None | object = UNSET,
    ) -> None:
        """Change the given knobs; the others stay as they are. `rate_limit=None` turns it off."""
        with self._lock:
            if latency is not None:
                if not 0 <= latency <= MAX_LATENCY:  # also refuses NaN
                    raise ValueError(f"latency must be between 0 and {MAX_LATENCY:g} seconds")
                self.latency = float(latency)
            if error_rate is not None:
                if not 0.0 <= error_rate <= 1.0:
                    raise ValueError("error_rate must be between 0 and 1")
                self.error_rate = float(error_rate)
            if rate_limit is not UNSET:
                if rate_limit is None:
                    self.rate_limit = None
                else:
                    limit, window = rate_limit  # type: ignore[misc]
                    if int(limit) < 1 or not 0 < float(window) < math.inf:
                        raise ValueError("rate_limit needs limit >= 1 and window > 0")
                    self.rate_limit = (int(limit), float(window))
                self._window_start = 0.0
                self._window_count = 0

    def snapshot(self) -> dict:
        with self._lock:
            limit = self.rate_limit
            return {
                "latency": self.latency,
                "error_rate": self.error_rate,
                "rate_limit": None if limit is None else {"limit": limit[0], "window": limit[1]},
            }

    def apply(self) -> None:
        """Called at the start of each API request: sleep, then maybe raise a 429 or a 503."""
        with self._lock:
            latency = self.latency
        if latency > 0:
            time.sleep(latency)
        with self._lock:
            if self.rate_limit is not None:
                self._check_rate_limit(*self.rate_limit)
            if self.error_rate > 0 and self._rng.random() < self.error_rate:
                raise ApiError(
                    503,
                    "ServiceUnavailable",
                    "The emulator injected a server error (error_rate)",
                )

    def _check_rate_limit(self, limit: int, window: float) -> None:
        now = time.time()
        if now >= self._window_start + window:
            self._window_start = now
            self._window_count = 0
        reset_at = self._window_start + window
        if self._window_count >= limit:
            retry_after = max(1, math.ceil(reset_at - now))
            raise ApiError(
                429,
                "RATE_LIMIT_ERROR",
                f"Too many requests: the limit is {limit} per {window:g} s",
                headers={
                    "X-RateLimit-Limit": str(limit),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(math.ceil(reset_at)),
                    "Retry-After": str(retry_after),
                },
            )
        self._window_count += 1
