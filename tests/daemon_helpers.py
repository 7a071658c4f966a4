"""Helpers for end-to-end tests of the daemon: a live emulator (real clock), settings for a
service on a free port, waiting with a timeout."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path

from putbridge import tomlfile
from putbridge.config import BlackholeSettings, LibrarySettings, Settings
from putbridge.emulator import Emulator, EmulatorServer, RealClock
from tests.conftest import TEST_TOKEN

API_KEY = "test-api-key-3c9d1f"


@contextlib.contextmanager
def live_emulator(transfer_speed: float = 500_000_000):
    """The emulator on a real clock (transfers progress by themselves, callbacks are sent),
    served on a free port, with an empty /Movies."""
    emu = Emulator(token=TEST_TOKEN, clock=RealClock(), transfer_speed=transfer_speed)
    emu.add_folder("Movies")
    server = EmulatorServer(emu)
    server.start()
    try:
        yield emu, server
    finally:
        server.stop()
        emu.close()


def free_port() -> int:
    """An ephemeral port that was free a moment ago (the service must know its public URL
    before it binds, for the .strm links and the callback URL)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def daemon_settings(
    tmp_path: Path,
    server,
    *,
    callback: bool = False,
    poll_active: float = 0.5,
    poll_idle: float = 0.5,
) -> Settings:
    port = free_port()
    settings = Settings()
    settings.putio.token = TEST_TOKEN
    settings.putio.api_url = server.api_url
    settings.putio.upload_url = server.upload_url
    settings.putio.timeout = 10
    settings.server.listen = f"127.0.0.1:{port}"
    settings.server.public_url = f"http://127.0.0.1:{port}"
    settings.server.api_key = API_KEY
    settings.server.callback = callback
    settings.state.dir = str(tmp_path / "state")
    settings.library = [
        LibrarySettings(path=str(tmp_path / "library"), source="/Movies", layout="movies")
    ]
    settings.blackhole = [
        BlackholeSettings(path=str(tmp_path / "blackhole"), target="/Movies", stable_seconds=0.1)
    ]
    settings.transfers.target = "/Movies"
    settings.transfers.poll_active = poll_active
    settings.transfers.poll_idle = poll_idle
    return settings


def write_config(settings: Settings, path: Path) -> Path:
    """The settings as a TOML file a `putbridge run` subprocess reads."""
    data = {
        "putio": {
            "token": settings.putio.token,
            "api_url": settings.putio.api_url,
            "upload_url": settings.putio.upload_url,
        },
        "server": {
            "listen": settings.server.listen,
            "public_url": settings.server.public_url,
            "api_key": settings.server.api_key,
            "callback": settings.server.callback,
        },
        "state": {"dir": settings.state.dir},
        "transfers": {
            "target": settings.transfers.target,
            "poll_active": settings.transfers.poll_active,
            "poll_idle": settings.transfers.poll_idle,
        },
        "library": [
            {"path": lib.path, "source": lib.source, "layout": lib.layout}
            for lib in settings.library
        ],
        "blackhole": [
            {"path": bh.path, "target": bh.target, "stable_seconds": bh.stable_seconds}
            for bh in settings.blackhole
        ],
    }
    tomlfile.write_private(path, tomlfile.dumps(data))
    return path


def drop(folder: Path, name: str, content: str | bytes) -> Path:
    """Put a file into a blackhole the way a careful writer does: temp name, then rename."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.part"
    tmp.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    target = folder / name
    os.replace(tmp, target)
    return target


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()
