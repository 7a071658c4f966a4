"""Library sync at scale: putbridge's sync vs a naive folder-walking writer, in one run.

The emulator runs in its own process holding FILES files (movies and shows, 10% non-video) with
LATENCY seconds per request. Three syncs by putbridge (into an empty library; a no-op resync; a
resync after 1% of the videos were renamed on put.io), and the naive baseline (putio.py walking
folder by folder, naming each video the same way, writing every file every time) for the first
sync and the resync. Printed side by side: seconds, put.io requests, files written, peak RSS.

Targets: requests about ceil(N/1000) per sync; the no-op resync writes 0 files in under 10% of
the first sync's time; the 1% change writes about 1% of the files; peak RSS under 300 MB; first
sync at least 10x faster than the baseline.

    python benchmarks/sync_scale.py [--files 100000] [--latency 0.02]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

import requests
from _common import TOKEN, FolderWalk, PeakRss, start_emulator

from putbridge.config import LibrarySettings, Settings
from putbridge.library import naming
from putbridge.library.plan import plan_library
from putbridge.library.sync import library_sync_from_settings
from putbridge.library.tree import PutioTree
from putbridge.putio import File, PutioClient
from putbridge.store import Store


def write_seed(path: Path, files: int) -> int:
    """Movies (half in their own folder, half loose), shows in season folders, 10% other."""
    rng = random.Random(7)
    videos = files * 9 // 10
    movies = videos // 2
    episodes = videos - movies
    entries: list[str] = []
    for n in range(movies):
        year = 1950 + n % 75
        title = f"Film Number {n}"
        release = f"{title.replace(' ', '.')}.{year}.1080p.BluRay.x264-GRP.mkv"
        entries.append(f"/Movies/{title} ({year})/{release}" if n % 2 else f"/Movies/{release}")
    per_season, seasons = 30, 5
    for n in range(episodes):
        show, rest = divmod(n, per_season * seasons)
        season, episode = divmod(rest, per_season)
        title = f"Series {show}"
        entries.append(
            f"/TV/{title}/Season {season + 1:02d}/"
            f"{title.replace(' ', '.')}.S{season + 1:02d}E{episode + 1:02d}.720p.WEB.mkv"
        )
    for n in range(files - videos):
        kind = rng.choice(["nfo", "txt", "jpg"])
        entries.append(f"/Movies/extras-{n % 500}/note{n}.{kind}")
    path.write_text(json.dumps({"token": TOKEN, "files": entries}), encoding="utf-8")
    return len(entries)


def libraries(root: Path) -> list[LibrarySettings]:
    return [
        LibrarySettings(path=str(root / "Movies"), source="/Movies", layout="movies"),
        LibrarySettings(path=str(root / "TV"), source="/TV", layout="shows"),
    ]


def putbridge_sync(settings: Settings, api: str, upload: str) -> tuple[float, int, int, float]:
    clear_parse_caches()
    with (
        PutioClient(TOKEN, api_url=api, upload_url=upload) as client,
        Store(Path(settings.state.dir) / "putbridge.db") as store,
        PeakRss() as rss,
    ):
        report = library_sync_from_settings(settings, client, store).sync_all()
    written = report.count("added") + report.count("updated") + report.count("removed")
    return report.seconds, report.requests, written, rss.peak


def clear_parse_caches() -> None:
    """Forget in-process name parses, so each contender starts as cold as a new process."""
    for value in vars(naming).values():
        if hasattr(value, "cache_clear"):
            value.cache_clear()


def naive_sync(root: Path, api: str, upload: str, settings: Settings) -> tuple[float, int, int]:
    """Walk folder by folder with putio.py, name each video the same way, write every file."""
    clear_parse_caches()
    walk = FolderWalk(api, upload)
    started = time.perf_counter()
    found = [
        File.from_api({k: v for k, v in vars(item).items() if k != "created_at"})
        for item in walk.items()
    ]
    walk.close()
    sent = walk.requests
    tree = PutioTree(found)
    written = 0
    for library in settings.library:
        plan = plan_library(tree, library, strm_text=lambda f: f"{api}/files/{f.id}/stream")
        for entry in plan.values():
            target = Path(library.path) / entry.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(entry.content or "", encoding="utf-8")
            written += 1
    return time.perf_counter() - started, sent, written


def rename_some(api: str, share: float) -> int:
    """Rename a share of the videos on put.io (as a re-release or a repack would)."""
    session = requests.Session()
    session.headers["Authorization"] = f"token {TOKEN}"
    with PutioClient(TOKEN, api_url=api) as client:
        videos = [f for f in client.iter_files(-1) if f.is_video]
    chosen = random.Random(3).sample(videos, max(1, int(len(videos) * share)))
    for file in chosen:
        stem, ext = os.path.splitext(file.name)
        renamed = f"{stem.replace('.720p', '.1080p').replace('Film.Number', 'Film.Nr')}{ext}"
        if renamed == file.name:
            renamed = f"{stem}.REPACK{ext}"
        session.post(f"{api}/files/rename", data={"file_id": file.id, "name": renamed}, timeout=30)
    session.close()
    return len(chosen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument(
        "--naive-resync",
        action="store_true",
        help="also time the baseline's resync (the same walk and writes again: slow)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        total = write_seed(tmp_path / "seed.json", args.files)
        proc, api, upload = start_emulator(tmp_path / "seed.json")
        try:
            base = api.rsplit("/v2", 1)[0]
            requests.post(f"{base}/_emulator/faults", json={"latency": args.latency}, timeout=10)
            ours = Settings(library=libraries(tmp_path / "ours"))
            ours.state.dir = str(tmp_path / "state")
            ours.server.public_url = "http://127.0.0.1:9091"
            naive = Settings(library=libraries(tmp_path / "naive"))

            rows = []
            rows.append(("putbridge: first sync", *putbridge_sync(ours, api, upload)))
            rows.append(("putbridge: no-op resync", *putbridge_sync(ours, api, upload)))
            renamed = rename_some(api, 0.01)
            rows.append((f"putbridge: {renamed} renamed", *putbridge_sync(ours, api, upload)))
            naive_first = naive_sync(tmp_path / "naive", api, upload, naive)
            naive_again = (
                naive_sync(tmp_path / "naive", api, upload, naive) if args.naive_resync else None
            )
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(tmp_path / "ours", ignore_errors=True)

    print(
        f"account: {total} files (90% videos: movies and shows), "
        f"{args.latency * 1000:.0f} ms latency per request"
    )
    print(f"{'':34}{'seconds':>9}{'requests':>10}{'written':>9}{'peak RSS MB':>13}")
    for label, seconds, sent, written, peak in rows:
        print(f"{label:34}{seconds:>9.2f}{sent:>10}{written:>9}{peak:>13.0f}")
    naive_rows = [("naive walk: first sync", naive_first)]
    if naive_again:
        naive_rows.append(("naive walk: resync", naive_again))
    for label, (seconds, sent, written) in naive_rows:
        print(f"{label:34}{seconds:>9.2f}{sent:>10}{written:>9}{'':>13}")
    first, noop, change = rows
    print(
        f"requests per sync: {first[2]}, {noop[2]}, {change[2]} (about ceil(N/1000) = "
        f"{math.ceil(total / 1000)} for {total} files, plus one per 1,000 folders)"
    )
    print(
        f"no-op resync: {noop[3]} files written, {noop[1] / first[1]:.1%} of the first sync's "
        "time (target 0 files, < 10%)"
    )
    print(
        f"1% change: {change[3]} files written, {change[3] / max(first[3], 1):.1%} of the first "
        "sync's writes (target about 1%)"
    )
    naive_resync = naive_again or naive_first  # the naive resync redoes its first sync
    print(
        f"first sync {naive_first[0] / first[1]:.1f}x faster than the naive walk "
        f"(target >= 10x); no-op resync {naive_resync[0] / noop[1]:.1f}x faster"
        + ("" if naive_again else " (naive resync timed as its first sync: it redoes everything)")
    )
    print(f"peak RSS {max(r[4] for r in rows):.0f} MB (target < 300 MB)")


if __name__ == "__main__":
    main()
