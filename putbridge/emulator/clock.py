"""Clocks for the emulator: transfers, OOB codes and timestamps follow the emulator's clock.

`ManualClock` only moves when told to (tests); `RealClock` is wall-clock time (demo, CLI).
Both tell their subscribers (the emulator's `tick`) when time moves under their control.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

# 2024-01-01T00:00:00Z: a fixed start so manual-clock timestamps are reproducible.
DEFAULT_MANUAL_START = 1_704_067_200.0
# 9999-12-31T23:59:59Z: timestamps past it cannot be formatted, so a manual clock stops there.
MAX_TIMESTAMP = 253_402_300_799.0


def _check_time(timestamp: float) -> float:
    if not math.isfinite(timestamp):
        raise ValueError("time must be a finite number")
    if timestamp > MAX_TIMESTAMP:
        raise ValueError("a clock cannot go past the year 9999")
    return float(timestamp)


class Clock:
    """Base: `now()` in epoch seconds, plus subscribers called after the clock is advanced."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []
        self._listeners_lock = threading.Lock()

    def now(self) -> float:
        raise NotImplementedError

    @property
    def is_manual(self) -> bool:
        return False

    def subscribe(self, listener: Callable[[], None]) -> None:
        with self._listeners_lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[], None]) -> None:
        with self._listeners_lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _notify(self) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    def advance(self, seconds: float) -> None:
        raise TypeError(f"{type(self).__name__} cannot be advanced")


class ManualClock(Clock):
    """Time moves only through `advance` (or `set`); each move ticks the subscribed emulators."""

    def __init__(self, start: float = DEFAULT_MANUAL_START) -> None:
        super().__init__()
        self._now = _check_time(start)
        self._lock = threading.Lock()

    @property
    def is_manual(self) -> bool:
        return True

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError("seconds must be a finite number >= 0 (a clock cannot go backwards)")
        with self._lock:
            self._now = _check_time(self._now + float(seconds))
        self._notify()

    def set(self, timestamp: float) -> None:
        """Jump to an absolute time (never backwards)."""
        with self._lock:
            if timestamp < self._now:
                raise ValueError("a clock cannot go backwards")
            self._now = _check_time(timestamp)
        self._notify()

    def __repr__(self) -> str:
        return f"ManualClock(now={self.now()!r})"


class RealClock(Clock):
    """Wall-clock time; the emulator runs a small ticker thread so transfers move by themselves."""

    def now(self) -> float:
        return time.time()

    def __repr__(self) -> str:
        return "RealClock()"
