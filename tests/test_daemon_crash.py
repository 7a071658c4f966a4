"""`putbridge run` as a real process: killed with SIGKILL in the middle of a burst of drops and
started again, it loses no drop and makes no duplicate transfer; SIGTERM stops it cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import TEST_TOKEN
from tests.daemon_helpers import daemon_settings, drop, live_emulator, wait_for, write_config
from tests.factories import infohash, make_torrent

PUTBRIDGE = str(Path(sys.executable).with_name("putbridge"))


@pytest.fixture
def live():
    """The emulator on a real clock (see live_emulator)."""
    with live_emulator(transfer_speed=2_000_000_000) as (emu, server):
        yield emu, server


def start_daemon(config: Path, log: Path) -> subprocess.Popen:
    with log.open("ab") as stderr:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [PUTBRIDGE, "--config", str(config), "run"], stdout=subprocess.DEVNULL, stderr=stderr
        )


def drops_waiting(blackhole: Path) -> list[Path]:
    return [p for p in blackhole.iterdir() if p.is_file() and not p.name.startswith(".")]


def test_kill_9_in_a_burst_then_restart_loses_and_duplicates_nothing(tmp_path, live):
    emu, server = live
    settings = daemon_settings(tmp_path, server, poll_active=0.5, poll_idle=0.5)
    config = write_config(settings, tmp_path / "putbridge.toml")
    blackhole = tmp_path / "blackhole"
    log = tmp_path / "daemon.log"
    hashes = set()
    for n in range(1, 161):
        drop(blackhole, f"Film.{n}.2001.magnet", f"magnet:?xt=urn:btih:{n:040x}&dn=Film.{n}.2001")
        hashes.add(f"{n:040x}")
    for n in range(20):
        data = make_torrent(tmp_path / "src" / str(n), {f"Show.{n}.2002.mkv": bytes([n]) * 3000})
        drop(blackhole, f"Show.{n}.2002.torrent", data)
        hashes.add(infohash(data))
    for n in range(1, 31):  # the same magnets again under other names: no new transfers
        drop(blackhole, f"again.{n}.magnet", f"magnet:?xt=urn:btih:{n:040X}")
    total = len(drops_waiting(blackhole))
    assert total == 210

    daemon = start_daemon(config, log)
    try:
        assert wait_for(lambda: len(emu.transfers) >= 30, timeout=30), log.read_text()[-2000:]
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(timeout=10)
        interrupted = len(drops_waiting(blackhole))
        assert 0 < interrupted < total, "the kill came too late to test anything"

        daemon = start_daemon(config, log)
        processed = blackhole / "processed"
        assert wait_for(lambda: not drops_waiting(blackhole), timeout=60), log.read_text()[-3000:]
        started = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    assert len([p for p in processed.iterdir() if p.is_file()]) == total
    assert not (blackhole / "failed").exists() or not any((blackhole / "failed").iterdir())
    put_io_hashes = [t.hash for t in emu.transfers.values()]
    assert len(put_io_hashes) == len(set(put_io_hashes)) == len(hashes)
    assert set(put_io_hashes) == hashes
    assert "Traceback" not in log.read_text()
    assert TEST_TOKEN not in log.read_text()
