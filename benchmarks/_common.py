"""Pieces the benchmarks share: the emulator in its own process, a peak-RSS sampler and the
official putio.py client walking folders (the baseline). Not a benchmark itself."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import psutil
import putiopy

TOKEN = "bench-token-0123456789"


def start_emulator(seed: Path) -> tuple[subprocess.Popen, str, str]:
    """`putbridge emulator` serving ``seed`` in a child process: (process, api_url, upload_url)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "putbridge.cli", "emulator", "--token", TOKEN, "--seed", str(seed)],
        stdout=subprocess.PIPE,
        text=True,
    )
    api = upload = ""
    for line in proc.stdout:
        if "serving the API at" in line:
            api = line.split()[-1]
        elif line.startswith("uploads at"):
            upload = line.split()[-1].removesuffix("/files/upload")
        if api and upload:
            return proc, api, upload
    proc.kill()
    raise SystemExit("the emulator did not start")


class PeakRss:
    """Samples this process's resident memory every few ms; ``peak`` is the highest seen."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self.baseline = self._mb()
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler")

    def _mb(self) -> float:
        return self._process.memory_info().rss / 2**20

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._mb())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._mb())


class FolderWalk:
    """putio.py listing the account folder by folder, counting the requests it sends."""

    def __init__(self, api_url: str, upload_url: str) -> None:
        putiopy.BASE_URL = api_url
        putiopy.UPLOAD_URL = upload_url + "/files/upload"
        self.client = putiopy.Client(TOKEN, timeout=60)
        self.requests = 0
        send = self.client.session.request

        def counting(*args, **kwargs):
            self.requests += 1
            return send(*args, **kwargs)

        self.client.session.request = counting

    def items(self) -> Iterator[object]:
        """Every file and folder, breadth first from the root (putiopy resource objects)."""
        queue = deque([0])
        while queue:
            for item in self.client.File.list(parent_id=queue.popleft()):
                yield item
                if item.content_type == "application/x-directory":
                    queue.append(item.id)

    def close(self) -> None:
        self.client.close()
