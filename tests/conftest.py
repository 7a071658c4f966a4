"""Shared fixtures: a real emulator on an ephemeral port, a client bound to it, and a guard
that fails any test which leaves a thread running."""

from __future__ import annotations

import threading
import time

import pytest

TEST_TOKEN = "test-token-5f2b9c0d1e"


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Fail a test that leaves a non-daemon or daemon thread of its own running."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5.0
    while True:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not leaked, f"test leaked threads: {[t.name for t in leaked]}"


@pytest.fixture
def emulator():
    """A fresh put.io emulator (manual clock, empty account, no faults), not served."""
    from putbridge.emulator import Emulator, ManualClock

    emu = Emulator(token=TEST_TOKEN, clock=ManualClock())
    yield emu
    emu.close()


@pytest.fixture
def emulator_server(emulator):
    """The emulator served over real HTTP on 127.0.0.1 and an ephemeral port."""
    from putbridge.emulator import EmulatorServer

    server = EmulatorServer(emulator)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def putio(emulator_server):
    """A PutioClient bound to the served emulator, with sleeps shortened for tests."""
    from putbridge.putio import PutioClient

    client = PutioClient(
        TEST_TOKEN,
        api_url=emulator_server.api_url,
        upload_url=emulator_server.upload_url,
        timeout=10,
    )
    yield client
    client.close()


@pytest.fixture
def http(emulator_server, emulator):
    """A requests session that sends the emulator account's token."""
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"token {emulator.token}"
    yield session
    session.close()


@pytest.fixture
def api(emulator_server):
    """The served emulator's API base URL (…/v2)."""
    return emulator_server.api_url


@pytest.fixture
def ffprobe() -> str:
    """The path of ffprobe; a test that needs it fails (not skips) without it: CI installs it."""
    import shutil

    path = shutil.which("ffprobe")
    if path is None:
        pytest.fail("ffprobe is not installed: install ffmpeg (apt-get install ffmpeg)")
    return path
