"""EmulatorServer: the emulator over real HTTP (werkzeug's threaded server) in a named thread.

`stop()` shuts the listener down, closes idle keep-alive connections and joins every thread the
server started, so tests that guard against leaked threads stay green.
"""

from __future__ import annotations

import socket
import threading
from typing import TYPE_CHECKING

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from putbridge.urls import local_base_url

from .app import create_emulator_app
from .emulator import Emulator

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

STOP_TIMEOUT = 10.0


class _QuietHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # one line per request would drown test and demo output


class _EmulatorWSGIServer(ThreadedWSGIServer):
    """werkzeug's threaded server that remembers each connection's socket and thread, so
    `close_connections` can end idle keep-alive connections and join their threads."""

    def __init__(self, host: str, port: int, app: WSGIApplication) -> None:
        super().__init__(host, port, app, handler=_QuietHandler)
        self._conn_lock = threading.Lock()
        self._connections: dict[threading.Thread, socket.socket] = {}

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name="putio-emulator-conn",
            daemon=True,
        )
        with self._conn_lock:
            self._connections[thread] = request
        thread.start()

    def _serve_connection(self, request: socket.socket, client_address: object) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._conn_lock:
                self._connections.pop(threading.current_thread(), None)

    def close_connections(self, timeout: float) -> None:
        with self._conn_lock:
            connections = dict(self._connections)
        for sock in connections.values():
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in connections:
            thread.join(timeout)


class EmulatorServer:
    """Serve `emu` on host:port (port 0 picks a free one). Also a context manager."""

    def __init__(self, emu: Emulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.emulator = emu
        self.host = host
        self.port = port
        self.app = create_emulator_app(emu)
        self._server: _EmulatorWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> EmulatorServer:
        with self._lock:
            if self._server is not None:
                return self
            server = _EmulatorWSGIServer(self.host, self.port, self.app)
            self.port = server.server_port
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"putio-emulator-{self.port}",
                daemon=True,
            )
            self._thread.start()
        self.emulator.start_background()
        return self

    def stop(self) -> None:
        """Stop serving and join every thread (server, connections, ticker, callbacks)."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.close_connections(STOP_TIMEOUT)
            if thread is not None:
                thread.join(STOP_TIMEOUT)
            server.server_close()
        self.emulator.stop_background()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def base_url(self) -> str:
        return local_base_url(self.host, self.port)

    @property
    def api_url(self) -> str:
        return self.base_url + "/v2"

    @property
    def upload_url(self) -> str:
        return self.base_url + "/upload/v2"

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<EmulatorServer {self.base_url} {state}>"
