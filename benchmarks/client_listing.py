"""Listing a large put.io account: PutioClient's flat listing vs putio.py walking folders.

The emulator runs in its own process (so our RSS is ours alone) holding FILES files in FOLDERS
folders, with LATENCY seconds added to every request, as put.io's round trip would. Both clients
list the whole account in the same run; we print wall time, requests, the ratios and our peak RSS
over the process baseline.

Targets: our requests = ceil(N / 1000); at least 20x fewer requests and 10x less time than the
folder walk; our peak RSS grows by less than 50 MB.

    python benchmarks/client_listing.py [--files 50000] [--folders 5000] [--latency 0.02]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import requests
from _common import TOKEN, FolderWalk, PeakRss, start_emulator

from putbridge.putio import PutioClient


def write_seed(path: Path, files: int, folders: int) -> int:
    per_folder = max(1, files // folders)
    entries = []
    for folder in range(folders):
        for n in range(per_folder):
            entries.append(f"/Library/Folder {folder:05d}/Video {n:03d}.mkv")
    path.write_text(json.dumps({"token": TOKEN, "files": entries}), encoding="utf-8")
    return len(entries) + folders + 1  # the files, their folders and /Library


def ours(api_url: str, upload_url: str) -> tuple[float, int, int]:
    with PutioClient(TOKEN, api_url=api_url, upload_url=upload_url) as client:
        started = time.perf_counter()
        count = sum(1 for _ in client.iter_files(parent_id=-1))
        return time.perf_counter() - started, client.request_count, count


def folder_walk(api_url: str, upload_url: str) -> tuple[float, int, int]:
    walk = FolderWalk(api_url, upload_url)
    started = time.perf_counter()
    count = sum(1 for _ in walk.items())
    elapsed = time.perf_counter() - started
    walk.close()
    return elapsed, walk.requests, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--folders", type=int, default=5_000)
    parser.add_argument("--latency", type=float, default=0.02)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        seed = Path(tmp) / "seed.json"
        expected = write_seed(seed, args.files, args.folders)
        proc, api_url, upload_url = start_emulator(seed)
        try:
            base = api_url.rsplit("/v2", 1)[0]
            requests.post(f"{base}/_emulator/faults", json={"latency": args.latency}, timeout=10)
            # Warm up imports and the connection path before taking the RSS baseline.
            with PutioClient(TOKEN, api_url=api_url, upload_url=upload_url) as warm:
                warm.account_info()
            with PeakRss() as rss:
                our_time, our_requests, our_count = ours(api_url, upload_url)
            walk_time, walk_requests, walk_count = folder_walk(api_url, upload_url)
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    target_requests = math.ceil(expected / 1000)
    print(
        f"account: {expected} items ({args.files} files in {args.folders} folders), "
        f"{args.latency * 1000:.0f} ms latency per request"
    )
    print(f"{'':28}{'seconds':>10}{'requests':>10}{'items':>9}")
    print(f"{'PutioClient flat listing':28}{our_time:>10.2f}{our_requests:>10}{our_count:>9}")
    print(f"{'putio.py folder walk':28}{walk_time:>10.2f}{walk_requests:>10}{walk_count:>9}")
    print(
        f"requests: ours {our_requests} (target ceil(N/1000) = {target_requests}); "
        f"{walk_requests / our_requests:.1f}x fewer than the walk (target >= 20x)"
    )
    print(f"time: {walk_time / our_time:.1f}x faster than the walk (target >= 10x)")
    print(
        f"our peak RSS: {rss.peak:.1f} MB, {rss.peak - rss.baseline:.1f} MB over the "
        f"{rss.baseline:.1f} MB baseline (target < 50 MB)"
    )
    assert our_count == walk_count == expected, "both listings must see every item"


if __name__ == "__main__":
    main()
