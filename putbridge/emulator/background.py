"""The emulator's background threads: the callback_url sender and the real-clock ticker.

Both are stoppable (a stop event, waits with timeouts) and joined by `stop()`.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

import requests

log = logging.getLogger(__name__)

CALLBACK_TIMEOUT = 5.0
_STOP = object()


class CallbackSender:
    """POSTs transfer callbacks form-encoded, one at a time, off the request and tick paths."""

    def __init__(self, on_error: Callable[[dict, str], None]) -> None:
        self._on_error = on_error
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self.delivered = 0

    def send(self, url: str, form: dict[str, str]) -> None:
        with self._lock:
            self._pending += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="putio-emulator-callbacks", daemon=True
                )
                self._thread.start()
            self._queue.put((url, form))

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued callback was attempted; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def _run(self) -> None:
        with requests.Session() as session:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                url, form = item
                try:
                    response = session.post(url, data=form, timeout=CALLBACK_TIMEOUT)
                    if response.status_code >= 400:
                        self._on_error(form, f"callback answered HTTP {response.status_code}")
                    else:
                        self.delivered += 1
                    response.close()
                except requests.RequestException as err:
                    self._on_error(form, f"callback failed: {err}")
                except Exception as err:  # never let the sender die on a bad URL
                    log.exception("callback to %s failed", url)
                    self._on_error(form, f"callback failed: {err!r}")
                finally:
                    with self._idle:
                        self._pending -= 1
                        self._idle.notify_all()

    def stop(self, timeout: float = 10.0) -> None:
        """Deliver what is queued, then end the thread. Idempotent."""
        with self._lock:
            thread = self._thread
            self._thread = None
            if thread is not None:
                self._queue.put(_STOP)
        if thread is not None:
            thread.join(timeout)


class Ticker:
    """Calls `tick` every `interval` seconds until stopped (for the real clock)."""

    def __init__(self, tick: Callable[[], None], interval: float = 0.5) -> None:
        self._tick = tick
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        with self._lock:
            if self.running:
                return
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="putio-emulator-ticker", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._tick()
            except Exception:
                log.exception("emulator tick failed")

    def stop(self) -> None:
        with self._lock:
            thread = self._thread
            self._thread = None
            self._stop.set()
        if thread is not None:
            thread.join()
