"""The daemon: every part of putbridge wired together, started and stopped as one.

``Service(settings).start()`` opens the state database, serves the web app, settles transfers a
crash left half-sent, starts the transfer monitor, the blackhole watchers and the periodic full
sync; ``stop()`` stops them in the reverse order and joins every thread. Nothing here is global:
tests start as many services as they like.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from putbridge import tomlfile
from putbridge.config import Settings
from putbridge.errors import ConfigError, PutbridgeError, ShuttingDown
from putbridge.intake.blackhole import BlackholeWatcher
from putbridge.intake.sources import Source
from putbridge.intake.submit import TransferService
from putbridge.library.links import (
    LinkSigner,
    StreamUrlCache,
    load_or_create_secret,
    normalise_public_url,
)
from putbridge.library.sync import library_sync_from_settings
from putbridge.logs import register_secret
from putbridge.mediaservers import make_server
from putbridge.mediaservers.notifier import ScanNotifier, library_roots
from putbridge.monitor import LogNotifier, Notifier, TransferMonitor
from putbridge.putio import PutioClient
from putbridge.store import Store
from putbridge.transfers import TransferLedger

log = logging.getLogger("putbridge.service")

API_KEY_FILE = "api_key"
# Threads sending drops of one blackhole: most of a send is waiting on put.io.
BLACKHOLE_WORKERS = 8
_CALLBACK_SECRET_KEY = "callback.secret"


def listen_address(listen: str) -> tuple[str, int]:
    """``host:port`` (IPv6 hosts in brackets or bare) -> (host, port); ConfigError if not."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535 or not host:
        raise ConfigError(f"[server] listen must be host:port, like 127.0.0.1:9091, not {listen!r}")
    return host.strip("[]"), int(port)


def ensure_api_key(settings: Settings) -> str:
    """The web API key: the configured one, else one generated once and kept (0600) in the
    state dir. Never logged."""
    if settings.server.api_key:
        return settings.server.api_key
    path = Path(settings.state.dir) / API_KEY_FILE
    if path.exists():
        key = path.read_text(encoding="utf-8").strip()
    else:
        key = ""
    if not key:
        key = secrets.token_urlsafe(24)
        tomlfile.write_private(path, key + "\n")
        log.info("generated an API key for the web API: it is in %s", path)
    register_secret(key)
    settings.server.api_key = key
    return key


def callback_secret(store: Store) -> str:
    """The secret in the callback URL put.io is given (kept in the database: transfers sent
    before a restart still carry it)."""
    secret = store.get_meta(_CALLBACK_SECRET_KEY)
    if not secret:
        secret = secrets.token_urlsafe(24)
        store.set_meta(_CALLBACK_SECRET_KEY, secret)
    register_secret(secret)
    return secret


def callback_url(settings: Settings, store: Store) -> str | None:
    """What put.io should POST to when a transfer finishes; None unless put.io can reach us."""
    if not settings.server.callback:
        return None
    base = normalise_public_url(settings.server.public_url)
    if not _internet_reachable(base):
        log.warning(
            "[server] callback is on but public_url %s is a local address put.io cannot reach: "
            "completions will be noticed by polling only",
            base,
        )
    return f"{base}/putio/callback/{callback_secret(store)}"


def _internet_reachable(url: str) -> bool:
    """False for loopback, private and link-local hosts (a name is given the benefit of the
    doubt)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith((".local", ".lan", ".home.arpa")):
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True
    return address.is_global


def open_store(settings: Settings) -> Store:
    return Store(Path(settings.state.dir) / "putbridge.db")


def putio_client(settings: Settings, *, token: str | None = None, **options: Any) -> PutioClient:
    """A PutioClient for the configured account (``token`` overrides the configured one)."""
    return PutioClient(
        settings.putio.token if token is None else token,
        api_url=settings.putio.api_url,
        upload_url=settings.putio.upload_url,
        timeout=options.pop("timeout", settings.putio.timeout),
        app_id=settings.putio.app_id,
        **options,
    )


def web_client(settings: Settings) -> PutioClient:
    """The web layer's client: a player waiting on a link hears "try later" at once instead of
    sitting out the patient retries the background work uses."""
    return putio_client(
        settings, timeout=min(settings.putio.timeout, 15.0), max_attempts=2, max_rate_limit_wait=0
    )


class Service:
    """putbridge run: web app, transfer monitor, blackholes and periodic sync. A context manager."""

    def __init__(
        self,
        settings: Settings,
        *,
        notifier: Notifier | None = None,
        submit_workers: int = 4,
    ) -> None:
        self.settings = settings
        self.notifier = notifier
        self.submit_workers = submit_workers
        self._stopping = threading.Event()
        self._started = False
        self._closers: list[Callable[[], None]] = []  # resources, closed last
        self._stoppers: list[Callable[[float], None]] = []  # threaded parts: stop(timeout)
        self.blackholes: list[BlackholeWatcher] = []
        self._sync_thread: threading.Thread | None = None
        self.server: Any = None
        self.last_sync: str | None = None

    # -- start and stop --------------------------------------------------------------------

    def start(self) -> Service:
        from webhook import BridgeServer, create_app  # the core's only door to the web layer

        settings = self.settings
        if not settings.putio.token:
            raise ConfigError("no put.io token: run `putbridge login` first")
        host, port = listen_address(settings.server.listen)
        try:
            self.store = open_store(settings)
            self._closers.append(self.store.close)
            api_key = ensure_api_key(settings)
            secret = callback_secret(self.store)
            # Background work waits patiently on put.io, but never past stop().
            self.client = putio_client(settings, sleep=self._sleep)
            self._closers.append(self.client.close)
            self.web_client = web_client(settings)
            self._closers.append(self.web_client.close)
            self.library = library_sync_from_settings(settings, self.client, self.store)
            self.ledger = TransferLedger(self.store)
            if self.notifier is None:
                self.notifier = self._scan_notifier()
            self.monitor = TransferMonitor(
                self.client,
                self.ledger,
                self.library,
                settings=settings.transfers,
                notifier=self.notifier,
                on_poll=self._sweep,
            )
            self.transfers = TransferService(
                self.client,
                self.ledger,
                default_target=settings.transfers.target,
                callback_url=callback_url(settings, self.store),
                workers=self.submit_workers,
                on_submitted=self.monitor.hurry,
                on_poke=self.monitor.wake,
            )
            signer = LinkSigner(load_or_create_secret(Path(settings.state.dir)))
            app = create_app(
                signer=signer,
                client=self.web_client,
                url_cache=StreamUrlCache(self.web_client.file_url),
                transfers=self.transfers,
                api_key=api_key,
                callback_secret=secret,
                health=self.health,
            )
            self.server = BridgeServer(app, host=host, port=port, threads=settings.server.threads)
            try:
                self.server.start()
            except OSError as err:
                raise ConfigError(f"cannot listen on {settings.server.listen}: {err}") from err
            self._stoppers.append(self.server.stop)
            self.transfers.start()
            self._stoppers.append(self.transfers.stop)
            self.monitor.start()
            self._stoppers.append(self.monitor.stop)
            for blackhole in settings.blackhole:
                watcher = BlackholeWatcher(
                    blackhole, self._blackhole_add(blackhole.path), workers=BLACKHOLE_WORKERS
                )
                watcher.start()
                self.blackholes.append(watcher)
                self._stoppers.append(watcher.stop)
            self._sync_thread = threading.Thread(
                target=self._sync_loop, name="putbridge-sync", daemon=True
            )
            self._sync_thread.start()
        except BaseException:
            self.stop()
            raise
        self._started = True
        log.info(
            "putbridge is running: web at %s, %d blackholes, %d libraries",
            self.server.base_url,
            len(self.blackholes),
            len(settings.library),
        )
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop everything and join every thread, within about ``timeout`` seconds."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        while self._stoppers:  # newest first, each within what is left of the one deadline
            stop = self._stoppers.pop()
            try:
                stop(max(0.1, deadline - time.monotonic()))
            except Exception:
                log.exception("while stopping")
        if self._sync_thread is not None:
            self._sync_thread.join(max(0.1, deadline - time.monotonic()))
        running = self._running_threads()
        if running:
            # A put.io call outlived the deadline; the process is ending anyway, and closing
            # the database under a thread that still writes would only add errors.
            log.warning("stopped without waiting for: %s", ", ".join(running))
            self._closers.clear()
        while self._closers:
            close = self._closers.pop()
            try:
                close()
            except Exception:
                log.exception("while stopping")
        if self._started:
            log.info("putbridge stopped")
        self._started = False

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return self.server.base_url

    # -- parts -----------------------------------------------------------------------------

    def _scan_notifier(self) -> Notifier:
        """A ScanNotifier over the configured servers (started and stopped with the rest), or
        the log-only notifier when there are none."""
        if not self.settings.mediaserver:
            return LogNotifier()
        servers = [make_server(entry) for entry in self.settings.mediaserver]
        for server in servers:
            self._closers.append(server.close)
        notifier = ScanNotifier(
            servers,
            self.store,
            roots=library_roots(self.settings.library),
            ledger=self.ledger,
            debounce=self.settings.transfers.scan_debounce,
        )
        notifier.start()
        self._stoppers.append(notifier.stop)
        return notifier

    def _running_threads(self) -> list[str]:
        parts: list[tuple[str, bool]] = [
            ("full sync", self._sync_thread is not None and self._sync_thread.is_alive())
        ]
        if hasattr(self, "monitor"):
            parts.append(("transfer monitor", self.monitor.is_alive()))
        if hasattr(self, "transfers"):
            parts.append(("submitter", self.transfers.running()))
        parts += [(f"blackhole {w.settings.path}", w.running()) for w in self.blackholes]
        if isinstance(self.notifier, ScanNotifier):
            parts.append(("media-server scans", self.notifier.running()))
        return [name for name, alive in parts if alive]

    def _sleep(self, seconds: float) -> None:
        if self._stopping.wait(seconds):
            raise ShuttingDown("putbridge is stopping")

    def _recover(self) -> None:
        try:
            queued = self.transfers.recover()
        except ShuttingDown:
            return
        except PutbridgeError as err:  # put.io down: the workers retry what is waiting
            log.warning("cannot check put.io for interrupted submissions yet: %s", err)
            return
        if queued:
            log.info("%d transfers waiting to be sent to put.io", queued)

    def _sweep(self) -> None:
        """Each poll: queue rows another process left waiting (a `putbridge add` that met
        put.io down)."""
        if self.transfers.sweep():
            log.info("sending transfers that were left waiting")

    def _blackhole_add(self, path: str) -> Callable[[Source, str], None]:
        def add(source: Source, target: str) -> None:
            self.transfers.add(source, target=target, origin=f"blackhole:{path}", wait=True)

        return add

    def _sync_loop(self) -> None:
        # Settling a crash's unsure submissions may wait on put.io: here, not in start().
        self._recover()
        interval = self.settings.transfers.sync_interval * 60
        while not self._stopping.is_set():
            self.sync_now()
            self._stopping.wait(interval)

    def sync_now(self) -> None:
        """One full sync of every library (logged, never raised: the daemon carries on)."""
        if not self.settings.library:
            return

        def progress(_step: str, _done: int, _total: int | None) -> None:
            if self._stopping.is_set():
                raise ShuttingDown("putbridge is stopping")

        try:
            report = self.library.sync_all(progress=progress)
        except ShuttingDown:
            return
        except PutbridgeError as err:
            self.last_sync = f"failed: {err}"
            log.warning("full sync failed: %s", err)
            return
        self.last_sync = report.summary()
        log.info("full sync: %s", report.summary())
        for result in report.results:
            written = [result.root / p for p in (*result.added, *result.updated)]
            self.notifier.notify(written)
            self.notifier.notify([result.root / p for p in result.removed], removed=True)

    def health(self) -> dict[str, Any]:
        """What GET /health reports: the database, put.io, and that every thread is alive."""
        checks: dict[str, dict[str, Any]] = {}
        try:
            self.store.query("SELECT 1")
            checks["database"] = {"ok": True, "detail": "answering"}
        except Exception as err:  # noqa: BLE001 - any failure is the answer
            checks["database"] = {"ok": False, "detail": str(err)}
        monitor = self.monitor
        if monitor.last_error:
            checks["putio"] = {"ok": False, "detail": monitor.last_error}
        else:
            seen = "not polled yet" if monitor.last_ok is None else "answering"
            checks["putio"] = {"ok": True, "detail": seen}
        checks["monitor"] = {"ok": monitor.is_alive(), "detail": f"{monitor.polls} polls"}
        checks["submitter"] = {
            "ok": self.transfers.is_alive(),
            "detail": f"{self.transfers.pending()} queued",
        }
        if isinstance(self.notifier, ScanNotifier):
            pending = sum(self.notifier.pending().values())
            checks["scans"] = {
                "ok": self.notifier.is_alive(),
                "detail": f"{pending} folders waiting to be rescanned",
            }
        for watcher in self.blackholes:
            checks[f"blackhole {watcher.settings.path}"] = {
                "ok": watcher.is_alive(),
                "detail": "watching" if watcher.is_alive() else "stopped",
            }
        return {"ok": all(check["ok"] for check in checks.values()), "checks": checks}
