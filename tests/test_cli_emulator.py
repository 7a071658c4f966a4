"""`putbridge emulator` as a user runs it: a real process, a seed file, SIGTERM to stop."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
import requests

from putbridge.putio import PutioClient


def start(args):
    proc = subprocess.Popen(
        [sys.executable, "-m", "putbridge.cli", "emulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    urls = {}
    for line in proc.stdout:
        if "serving the API at" in line:
            urls["api"] = line.split()[-1]
        elif line.startswith("uploads at"):
            urls["upload"] = line.split()[-1].removesuffix("/files/upload")
        elif line.startswith("token:"):
            urls["token"] = line.split()[-1]
            break
    return proc, urls


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=10)
    finally:
        proc.stdout.close()
        proc.stderr.close()


def test_emulator_command_serves_a_seed_and_stops_on_sigterm(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(
        json.dumps({"files": ["/Movies/Heat (1995)/Heat.1995.mkv", "/TV/Show/S01E01.mkv"]})
    )
    proc, urls = start(["--token", "cli-token-123456", "--seed", str(seed)])
    try:
        assert urls["api"].startswith("http://127.0.0.1:") and urls["api"].endswith("/v2")
        assert urls["token"] == "cli-token-123456"
        with PutioClient("cli-token-123456", api_url=urls["api"], upload_url=urls["upload"]) as c:
            names = sorted(f.name for f in c.iter_files(-1) if not f.is_folder)
        assert names == ["Heat.1995.mkv", "S01E01.mkv"]
        unauthorised = requests.get(f"{urls['api']}/files/list", timeout=10)
        assert unauthorised.status_code == 401
    finally:
        code = stop(proc)
    assert code == 0


def test_emulator_command_without_seed_holds_the_sample_library():
    proc, urls = start([])
    try:
        with PutioClient(urls["token"], api_url=urls["api"], upload_url=urls["upload"]) as c:
            videos = [f for f in c.iter_files(-1) if f.is_video]
        assert len(videos) >= 5
    finally:
        assert stop(proc) == 0


def test_emulator_command_with_a_bad_seed_fails_in_one_line(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text('{"files": ["/a.mkv"], "flies": []}')
    result = subprocess.run(
        [sys.executable, "-m", "putbridge.cli", "emulator", "--seed", str(seed)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "flies" in result.stderr and "Traceback" not in result.stderr


def test_emulator_command_applies_fault_options_from_the_start():
    proc, urls = start(["--token", "fault-token-123", "--rate-limit", "2/60", "--latency", "0.05"])
    try:
        session = requests.Session()
        session.headers["Authorization"] = "token fault-token-123"
        answers = [session.get(f"{urls['api']}/account/info", timeout=10) for _ in range(3)]
        session.close()
        assert [a.status_code for a in answers] == [200, 200, 429]
        limited = answers[2]
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.headers["X-RateLimit-Limit"] == "2"
        assert all(a.elapsed.total_seconds() >= 0.05 for a in answers)
    finally:
        assert stop(proc) == 0


@pytest.mark.parametrize("value", ["abc", "0/1", "5/0", "5/-1", "5", "/", "5/inf"])
def test_emulator_command_refuses_a_bad_rate_limit(value):
    result = subprocess.run(
        [sys.executable, "-m", "putbridge.cli", "emulator", "--rate-limit", value],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "N/SECONDS" in result.stderr
