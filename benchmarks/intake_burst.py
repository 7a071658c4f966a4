"""Intake burst: the daemon's blackhole and web API under a burst vs a naive one-at-a-time loop.

An in-process emulator (real clock, no faults, LATENCY seconds per request) and a putbridge
Service (one blackhole, the web API) in this process. At once: DROPS files (70% .magnet, 30%
.torrent made by torf) plus DUPLICATES (half magnets of dropped torrents, half repeated magnets
under other names) land in the blackhole, written to a hidden temp name and renamed into place;
and WEBHOOK_CALLS POST /api/transfers from 32 threads (80% new magnets, 20% of dropped hashes).
Latency is from the drop's rename (or the call being sent) to the emulator creating the transfer
(its created_at: the wall clock), for each unique hash, by whichever input came first. Then the
naive baseline: one thread lists the folder and, file by file, calls add_transfer/upload_torrent
against a fresh emulator, no dedupe, the same drops (no webhook: it has no web API).

Targets: drop-to-transfers/add p99 under 1 s; transfers created = unique inputs; 0 files left in
the blackhole; 0 lost drops.

    python benchmarks/intake_burst.py [--drops 1000] [--duplicates 200] [--webhook-calls 500]
        [--latency 0] [--stable-seconds S]
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import random
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import torf
from _common import TOKEN, PeakRss

from putbridge.config import BlackholeSettings, Settings
from putbridge.emulator import Emulator, EmulatorServer, RealClock
from putbridge.putio import PutioClient
from putbridge.service import Service

API_KEY = "bench-api-key-0123456789"
Drop = tuple[str, bytes, str]  # (file name, content, lowercase hex info-hash)


def magnet(key: str, name: str) -> str:
    return f"magnet:?xt=urn:btih:{key}&dn={name}&xl=2000000000"


def make_inputs(tmp: Path, drops: int, duplicates: int, calls: int) -> tuple[list[Drop], list]:
    """Shuffled drops (with duplicates) and webhook (magnet, hash) pairs; torrents made by torf."""
    rng = random.Random(4)
    torrents = drops * 3 // 10
    out: list[Drop] = []
    for n in range(torrents):
        payload = tmp / "payload" / f"Show.{n}.S01E01.720p.WEB.mkv"
        payload.parent.mkdir(parents=True, exist_ok=True)
        payload.write_bytes(f"tiny payload {n}\n".encode())
        torrent = torf.Torrent(path=payload, trackers=["http://tracker.invalid/announce"])
        torrent.generate()
        out.append((f"Show.{n}.S01E01.torrent", torrent.dump(), torrent.infohash.lower()))
    for n in range(drops - torrents):
        key = hashlib.sha1(f"drop {n}".encode()).hexdigest()
        text = magnet(key, f"Film.Number.{n}.2020.1080p.mkv")
        out.append((f"Film.Number.{n}.2020.magnet", text.encode(), key))
    firsts = list(out)
    for n in range(duplicates):
        if n % 2 and torrents:  # the magnet of a dropped .torrent: the same info-hash
            name, _, key = rng.choice(firsts[:torrents])
            out.append((f"dup-{n}-{name}.magnet", magnet(key, name).encode(), key))
        else:  # the same magnet again under another name
            name, data, key = rng.choice(firsts[torrents:])
            out.append((f"dup-{n}-{name}", data, key))
    rng.shuffle(out)
    dropped_magnets = [(d.decode(), k) for n, d, k in firsts if n.endswith(".magnet")]
    hooks = []
    for n in range(calls):
        if n % 5 == 4:
            hooks.append(rng.choice(dropped_magnets))
        else:
            key = hashlib.sha1(f"webhook {n}".encode()).hexdigest()
            hooks.append((magnet(key, f"Hooked.Film.{n}.2021.mkv"), key))
    rng.shuffle(hooks)
    return out, hooks


def write_drops(folder: Path, drops: list[Drop], first: dict[str, float]) -> None:
    """Each drop to a hidden temp name, then renamed into place: its drop time is the rename."""
    for name, data, key in drops:
        part = folder / f".{name}.part"
        part.write_bytes(data)
        os.replace(part, folder / name)
        first.setdefault(key, time.time())


class Taken(logging.Handler):
    """When the blackhole took each drop (its "taken NAME" log line): for the time breakdown."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.at: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("taken ") and record.args:
            self.at.setdefault(str(record.args[0]), record.created)


def pct(values: list[float]) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)
    at = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return f"p50 {at(0.5) * 1000:6.0f}  p99 {at(0.99) * 1000:6.0f}  max {ordered[-1] * 1000:6.0f} ms"


def created_by_hash(emu: Emulator) -> tuple[dict[str, float], int]:
    created: dict[str, float] = {}
    records = list(emu.transfers.values())
    for rec in records:
        key = (rec.hash or "").lower()
        created[key] = min(created.get(key, rec.created_at), rec.created_at)
    return created, len(records)


def drop_files(folder: Path) -> list[str]:
    return [e.name for e in os.scandir(folder) if e.is_file() and not e.name.startswith(".")]


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def new_emulator(latency: float) -> tuple[Emulator, EmulatorServer]:
    # transfer_speed 1 byte/s: nothing completes during the run, as on put.io (minutes).
    emu = Emulator(token=TOKEN, clock=RealClock(), latency=latency, transfer_speed=1.0)
    emu.add_folder("Movies")
    return emu, EmulatorServer(emu).start()


def run_ours(tmp: Path, args, drops: list[Drop], hooks: list) -> dict:
    emu, server = new_emulator(args.latency)
    settings = Settings()
    settings.putio.token = TOKEN
    settings.putio.api_url, settings.putio.upload_url = server.api_url, server.upload_url
    settings.server.listen, settings.server.api_key = "127.0.0.1:0", API_KEY
    settings.server.public_url = "http://127.0.0.1:9"
    settings.state.dir = str(tmp / "state")
    settings.transfers.target = "/Movies"
    hole = BlackholeSettings(path=str(tmp / "blackhole"), target="/Movies")
    if args.stable_seconds is not None:
        hole.stable_seconds = args.stable_seconds
    settings.blackhole = [hole]
    folder = Path(hole.path)
    taken = Taken()
    bh_log = logging.getLogger("putbridge.blackhole")
    bh_log.setLevel(logging.INFO)
    bh_log.addHandler(taken)
    local = threading.local()
    sessions: list[requests.Session] = []
    first: dict[str, float] = {}
    hook_first: dict[str, float] = {}
    answers: list[float] = []

    def call(url: str, key: str) -> int:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.headers["X-Api-Key"] = API_KEY
            sessions.append(local.session)
        sent = time.time()
        hook_first.setdefault(key, sent)
        reply = local.session.post(f"{base}/api/transfers", json={"url": url}, timeout=30)
        answers.append(time.time() - sent)
        return reply.status_code

    unique = {k for _, _, k in drops} | {k for _, k in hooks}
    try:
        with PeakRss() as rss, Service(settings) as service, ThreadPoolExecutor(32) as pool:
            base = service.base_url
            emu.reset_stats()
            started = time.time()
            futures = [pool.submit(call, url, key) for url, key in hooks]
            write_drops(folder, drops, first)
            statuses = [f.result() for f in futures]
            settled = wait_for(
                lambda: len(emu.transfers) >= len(unique)
                and not drop_files(folder)
                and not service.transfers.pending(),
                timeout=90,
            )
            time.sleep(0.5)  # room for a late duplicate to show itself
            stats = emu.stats
            created, count = created_by_hash(emu)
    finally:
        bh_log.removeHandler(taken)
        for session in sessions:
            session.close()
        server.stop()
        emu.close()
    for key, sent in hook_first.items():
        first[key] = min(first.get(key, sent), sent)
    by_drop = {k for _, _, k in drops if first[k] < hook_first.get(k, float("inf"))}
    names = {name: key for name, _, key in drops}
    taken_lat = [t - first[names[n]] for n, t in taken.at.items() if names.get(n) in by_drop]
    return {
        "stable": hole.stable_seconds,
        "settled": settled,
        "drop": [created[k] - first[k] for k in by_drop if k in created],
        "hook": [created[k] - first[k] for k in unique - by_drop if k in created],
        "taken": taken_lat,
        "answers": answers,
        "statuses": statuses,
        "unique": len(unique),
        "created": count,
        "wall": max(created.values(), default=started) - started,
        "left": len(drop_files(folder)),
        "processed": len(drop_files(folder / "processed")),
        "failed": len([n for n in drop_files(folder / "failed") if not n.endswith(".reason")]),
        "lost": len({k for _, _, k in drops} - created.keys())
        + sum(1 for n, _, _ in drops if not any((folder / d / n).exists() for d in ("", "processed", "failed"))),
        "stats": stats,
        "rss": (rss.peak, rss.baseline),
    }


def run_naive(tmp: Path, args, drops: list[Drop]) -> dict:
    """One thread: list the folder, then for each file read it, send it, move it; no dedupe."""
    emu, server = new_emulator(args.latency)
    folder = tmp / "naive"
    (folder / "processed").mkdir(parents=True)
    first: dict[str, float] = {}
    writer = threading.Thread(target=write_drops, args=(folder, drops, first))
    started = time.time()
    try:
        with PutioClient(TOKEN, api_url=server.api_url, upload_url=server.upload_url) as client:
            parent = emu.file_by_path("/Movies")
            writer.start()
            done, deadline = 0, time.monotonic() + 90
            while done < len(drops) and time.monotonic() < deadline:
                for name in sorted(drop_files(folder)):
                    data = (folder / name).read_bytes()
                    if name.endswith(".torrent"):
                        client.upload_torrent(data, name, parent_id=parent)
                    else:
                        client.add_transfer(data.decode().strip(), save_parent_id=parent)
                    os.replace(folder / name, folder / "processed" / name)
                    done += 1
            writer.join()
            created, count = created_by_hash(emu)
            stats = emu.stats
    finally:
        server.stop()
        emu.close()
    keys = {k for _, _, k in drops}
    return {
        "drop": [created[k] - first[k] for k in keys if k in created],
        "created": count,
        "unique": len(keys),
        "wall": time.time() - started,
        "stats": stats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drops", type=int, default=1000)
    parser.add_argument("--duplicates", type=int, default=200)
    parser.add_argument("--webhook-calls", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--stable-seconds", type=float, default=None, help="default: the config's")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger().handlers[0].setLevel(logging.WARNING)

    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        made = time.perf_counter()
        drops, hooks = make_inputs(tmp, args.drops, args.duplicates, args.webhook_calls)
        made = time.perf_counter() - made
        ours = run_ours(tmp, args, drops, hooks)
        naive = run_naive(tmp, args, drops)

    torrents = sum(1 for n, _, _ in drops if n.endswith(".torrent"))
    print(
        f"inputs: {len(drops)} drops ({torrents} .torrent, {len(drops) - torrents} .magnet, "
        f"{args.duplicates} of them duplicates) + {len(hooks)} webhook calls (32 threads, 20% "
        f"hashes also dropped) = {ours['unique']} unique; torf made them in {made:.1f} s"
    )
    print(
        f"emulator latency {args.latency * 1000:.0f} ms/request; blackhole stable_seconds "
        f"{ours['stable']:g}" + ("" if args.stable_seconds is not None else " (the default)")
    )
    print(f"{'':34}{'latency to transfers/add (first input of each hash)':>54}")
    print(f"{'putbridge: drop (rename)':34}{pct(ours['drop']):>54}")
    print(f"{'  of which drop -> taken':34}{pct(ours['taken']):>54}")
    print(f"{'putbridge: webhook call sent':34}{pct(ours['hook']):>54}")
    print(f"{'  webhook HTTP answer':34}{pct(ours['answers']):>54}")
    print(f"{'naive loop: drop (rename)':34}{pct(naive['drop']):>54}")
    codes = {c: ours["statuses"].count(c) for c in sorted(set(ours["statuses"]))}
    print(f"webhook answers by status: {codes}")
    ok = ours["created"] == ours["unique"] and ours["settled"]
    print(
        f"transfers created: putbridge {ours['created']} (unique inputs {ours['unique']}: "
        f"{'PASS' if ok else 'FAIL'}); naive {naive['created']} for {naive['unique']} unique "
        f"dropped hashes ({naive['created'] - naive['unique']} duplicates on put.io)"
    )
    print(
        f"blackhole after: {ours['left']} left (target 0), {ours['processed']} in processed/, "
        f"{ours['failed']} in failed/; lost drops {ours['lost']} (target 0): "
        + ("PASS" if ours["left"] == 0 and ours["lost"] == 0 else "FAIL")
    )
    p99 = sorted(ours["drop"])[int(0.99 * len(ours["drop"]))] if ours["drop"] else float("inf")
    ratio = sorted(naive["drop"])[int(0.99 * len(naive["drop"]))] / p99
    print(
        f"drop p99 {p99:.2f} s (target < 1 s: {'PASS' if p99 < 1 else 'FAIL'}); the naive loop's "
        f"p99 is {ratio:.1f}x ours"
    )
    print(
        f"wall time: putbridge {ours['wall']:.2f} s burst start -> last transfer; naive "
        f"{naive['wall']:.2f} s"
    )
    for label, run in (("putbridge", ours), ("naive", naive)):
        routes = ", ".join(f"{r} {n}" for r, n in sorted(run["stats"]["by_route"].items()))
        print(f"put.io requests ({label}): {run['stats']['requests']}: {routes}")
    peak, baseline = ours["rss"]
    print(f"peak RSS {peak:.0f} MB ({peak - baseline:+.0f} MB; emulator + service + clients)")


if __name__ == "__main__":
    main()
