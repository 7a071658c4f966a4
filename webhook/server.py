"""BridgeServer: a WSGI app served by waitress in a named thread, stoppable and joinable.

waitress is made to run in the foreground until the process ends; stopping it from another
thread needs care. ``stop()`` asks the event loop (through waitress's own trigger) to close the
listening sockets and every connection, which makes a worker blocked on a slow client raise
``ClientDisconnected`` and unwind; then it shuts the worker pool down, joins every worker, closes
the trigger so the loop runs out of sockets and returns, and joins the loop thread. The worker
pool is ours (a ThreadedTaskDispatcher that keeps its Thread objects), so there is no guessing
which threads waitress started.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server
from waitress.task import ThreadedTaskDispatcher

from putbridge.urls import local_base_url

log = logging.getLogger("putbridge.webhook.server")

STOP_TIMEOUT = 10.0
STOP_GRACE = 1.0  # how long answers already being written may take to finish at stop
MAX_REQUEST_BODY = 16 * 1024 * 1024


class _Workers(ThreadedTaskDispatcher):
    """waitress's worker pool, with named threads we can join."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name
        self.started: list[threading.Thread] = []

    def start_new_thread(self, target: Any, thread_no: int) -> None:
        thread = threading.Thread(
            target=target, args=(thread_no,), name=f"{self._name}-worker-{thread_no}", daemon=True
        )
        self.started.append(thread)
        thread.start()


class BridgeServer:
    """Serve a WSGI ``app`` on host:port (port 0: a free one) with waitress. A context manager."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, threads: int = 8) -> None:
        if threads < 1:
            raise ValueError("threads must be >= 1")
        self.app = app
        self.host = host
        self.port = port
        self.threads = threads
        self._lock = threading.Lock()
        self._server: Any = None
        self._map: dict[int, Any] = {}
        self._workers: _Workers | None = None
        self._thread: threading.Thread | None = None
        self._trigger: Any = None

    def start(self) -> BridgeServer:
        """Bind and serve; raises OSError when the address is taken. Idempotent."""
        with self._lock:
            if self._server is not None:
                return self
            socket_map: dict[int, Any] = {}
            workers = _Workers("putbridge-http")
            try:
                server = create_server(
                    self.app,
                    map=socket_map,
                    _dispatcher=workers,
                    host=self.host,
                    port=self.port,
                    threads=self.threads,
                    ident="putbridge",
                    # waitress reads a whole body before the app (and its API key check) sees
                    # it: keep that well below its 1 GB default. The app's own limit is 10 MiB.
                    max_request_body_size=MAX_REQUEST_BODY,
                )
            except BaseException:
                # A failed bind leaves the new socket and trigger pipe in the map.
                _close_all(socket_map)
                raise
            if hasattr(server, "effective_port"):
                self.port = int(server.effective_port)
            else:  # several addresses (a name like "localhost"): report the first
                self.port = int(server.effective_listen[0][1])
            workers.set_thread_count(self.threads)
            thread = threading.Thread(
                target=self._run, args=(server,), name=f"putbridge-http-{self.port}", daemon=True
            )
            self._server, self._map, self._workers, self._thread = (
                server,
                socket_map,
                workers,
                thread,
            )
            # Found before the loop runs, while nothing else touches the map.
            self._trigger = _trigger(socket_map)
            thread.start()
        log.debug("serving on %s", self.base_url)
        return self

    def _run(self, server: Any) -> None:
        try:
            server.run()
        except Exception:
            log.exception("the web server's event loop failed")

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Close every connection, stop the workers and join every thread. Idempotent."""
        with self._lock:
            server, socket_map, workers, thread, trigger = (
                self._server,
                self._map,
                self._workers,
                self._thread,
                self._trigger,
            )
            self._server, self._map, self._workers, self._thread = None, {}, None, None
            self._trigger = None
        if server is None or workers is None or thread is None:
            return
        # Stop accepting, let answers being written finish (briefly: a stream to a slow player
        # does not), then close every connection. Closing a channel under a worker that is
        # still servicing it makes waitress log an IndexError from its emptied request list.
        _in_loop(thread, trigger, socket_map, _stop_listening, timeout)
        grace = time.monotonic() + min(STOP_GRACE, timeout)
        while (workers.active_count or workers.queue) and time.monotonic() < grace:
            time.sleep(0.01)
        _in_loop(thread, trigger, socket_map, _close_connections, timeout)
        workers.shutdown(cancel_pending=True, timeout=timeout)
        for worker in workers.started:
            worker.join(timeout)
        # Only the triggers are left: closing them empties the map and the loop returns.
        _in_loop(thread, trigger, socket_map, _close_all, timeout)
        thread.join(timeout)
        alive = [t.name for t in [thread, *workers.started] if t.is_alive()]
        if alive:
            log.warning("web server threads still running after stop: %s", ", ".join(alive))

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def base_url(self) -> str:
        return local_base_url(self.host, self.port)

    def __enter__(self) -> BridgeServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<BridgeServer {self.base_url} {'running' if self.running else 'stopped'}>"


def _in_loop(
    thread: threading.Thread,
    trigger: Any,
    socket_map: dict[int, Any],
    action: Callable[[dict[int, Any]], None],
    timeout: float,
) -> None:
    """Run ``action(socket_map)`` in the event-loop thread, which owns the sockets."""
    if trigger is None or not thread.is_alive():
        action(socket_map)  # the loop is gone: nobody else touches the map
        return
    done = threading.Event()

    def thunk() -> None:
        try:
            action(socket_map)
        finally:
            done.set()

    try:
        trigger.pull_trigger(thunk)
    except OSError:
        action(socket_map)
        return
    if not done.wait(timeout):
        log.warning("the web server's event loop did not answer within %.0f s", timeout)


def _trigger(socket_map: dict[int, Any]) -> Any:
    """The waker of the event loop (one per listener; any will do)."""
    for dispatcher in list(socket_map.values()):
        if isinstance(dispatcher, BaseWSGIServer):
            return dispatcher.trigger
    return None


def _stop_listening(socket_map: dict[int, Any]) -> None:
    for dispatcher in list(socket_map.values()):
        if isinstance(dispatcher, BaseWSGIServer):
            # BaseWSGIServer.close would also close the trigger, which workers still pull.
            wasyncore.dispatcher.close(dispatcher)


def _close_connections(socket_map: dict[int, Any]) -> None:
    """Close every connection; the triggers stay for the workers."""
    for dispatcher in list(socket_map.values()):
        if isinstance(dispatcher, HTTPChannel):
            # Mark it closed before waking a worker waiting to write, so the worker sees a
            # closed channel and raises ClientDisconnected instead of waiting again.
            dispatcher.cancel()
            dispatcher.handle_close()


def _close_all(socket_map: dict[int, Any]) -> None:
    wasyncore.close_all(socket_map, ignore_all=True)
