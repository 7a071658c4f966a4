"""Intake burst: `putbridge run` taking a burst of drops and webhook calls vs a naive loop.

The emulator runs here (real clock, no faults, LATENCY s per request, nothing completes), and
`putbridge run` in its own process with one blackhole and the web API. At once: DROPS files (70%
.magnet, 30% .torrent made by torf) plus DUPLICATES (half magnets of dropped torrents, half the
same magnets renamed) are renamed into the blackhole from hidden temp files (--direct: written in
place), and WEBHOOK_CALLS POST /api/transfers from 32 threads (20% hashes also dropped). Latency:
from the rename (or the call) to the emulator's created_at, per unique hash, from the input that
brought it first; the daemon's "taken" log lines split a drop's time in two. Baseline: one thread
lists the folder and, file by file, calls PutioClient.add_transfer/upload_torrent (no dedupe).

Targets: drop-to-transfers/add p99 under 1 s; transfers created = unique inputs; 0 files left in
the blackhole; 0 lost drops.

    python benchmarks/intake_burst.py [--drops 1000] [--duplicates 200] [--webhook-calls 500]
        [--latency 0] [--stable-seconds S] [--direct]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import psutil
import requests
import torf
from _common import TOKEN

from putbridge import tomlfile
from putbridge.config import BlackholeSettings
from putbridge.emulator import Emulator, EmulatorServer, RealClock
from putbridge.putio import PutioClient

PUTBRIDGE = str(Path(sys.executable).with_name("putbridge"))
API_KEY = "bench-api-key-0123456789"
Drop = tuple[str, bytes, str]  # (file name, content, lowercase hex info-hash)


def magnet(key: str, name: str) -> str:
    return f"magnet:?xt=urn:btih:{key}&dn={name}&xl=2000000000"


def make_inputs(tmp: Path, drops: int, duplicates: int, calls: int) -> tuple[list[Drop], list]:
    """Shuffled drops (duplicates included) and webhook (magnet, hash) pairs."""
    rng, torrents, out = random.Random(4), drops * 3 // 10, []
    for n in range(torrents):
        payload = tmp / "payload" / f"Show.{n}.S01E01.720p.WEB.mkv"
        payload.parent.mkdir(parents=True, exist_ok=True)
        payload.write_bytes(f"tiny payload {n}\n".encode())
        torrent = torf.Torrent(path=payload, trackers=["http://tracker.invalid/announce"])
        torrent.generate()
        out.append((f"Show.{n}.S01E01.torrent", torrent.dump(), torrent.infohash.lower()))
    for n in range(drops - torrents):
        key = hashlib.sha1(f"drop {n}".encode()).hexdigest()
        out.append((f"Film.{n}.2020.magnet", magnet(key, f"Film.{n}.2020.mkv").encode(), key))
    originals = list(out)
    for n in range(duplicates):
        if n % 2 and torrents:  # the magnet of a dropped .torrent: the same info-hash
            name, _, key = rng.choice(originals[:torrents])
            out.append((f"dup-{n}-{name}.magnet", magnet(key, name).encode(), key))
        else:  # the same magnet again under another name
            name, data, key = rng.choice(originals[torrents:])
            out.append((f"dup-{n}-{name}", data, key))
    rng.shuffle(out)
    dropped = [(d.decode(), k) for n, d, k in originals if n.endswith(".magnet")]
    hooks = []
    for n in range(calls):
        key = hashlib.sha1(f"hook {n}".encode()).hexdigest()
        hooks.append(rng.choice(dropped) if n % 5 == 4 else (magnet(key, f"Hook.{n}.mkv"), key))
    rng.shuffle(hooks)
    return out, hooks


def write_drops(folder: Path, drops: list[Drop], first: dict, direct: bool = False) -> None:
    """Each drop to a hidden temp name, then renamed into place (or written in place)."""
    for name, data, key in drops:
        path = folder / name if direct else folder / f".{name}.part"
        path.write_bytes(data)
        if not direct:
            os.replace(path, folder / name)
        first.setdefault(key, time.time())


def p99(values: list[float]) -> float:
    return sorted(values)[min(len(values) - 1, int(0.99 * len(values)))] if values else 1e9


def pct(values: list[float]) -> str:
    if not values:
        return "n/a"
    s = sorted(values)
    return f"p50 {s[len(s) // 2] * 1e3:6.0f}  p99 {p99(s) * 1e3:6.0f}  max {s[-1] * 1e3:6.0f} ms"


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
    emu = Emulator(token=TOKEN, clock=RealClock(), latency=latency, transfer_speed=1e-3)
    emu.add_folder("Movies")
    return emu, EmulatorServer(emu).start()


def start_daemon(tmp: Path, server: EmulatorServer, stable: float | None) -> tuple:
    """`putbridge run` with one blackhole, once healthy: (process, base URL, blackhole, log)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    hole = {"path": str(tmp / "blackhole"), "target": "/Movies"}
    hole.update({"stable_seconds": stable} if stable is not None else {})
    config = {
        "putio": {"token": TOKEN, "api_url": server.api_url, "upload_url": server.upload_url},
        "server": {"listen": base[7:], "public_url": base, "api_key": API_KEY, "callback": False},
        "state": {"dir": str(tmp / "state")},
        "transfers": {"target": "/Movies"},
        "blackhole": [hole],
    }
    tomlfile.write_private(tmp / "putbridge.toml", tomlfile.dumps(config))
    log = tmp / "daemon.log"
    with log.open("wb") as stderr:
        cmd = [PUTBRIDGE, "--config", str(tmp / "putbridge.toml"), "run"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr)

    def healthy() -> bool:
        if proc.poll() is not None:
            raise SystemExit(f"putbridge run exited:\n{log.read_text()[-2000:]}")
        try:
            return requests.get(f"{base}/health", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    if not wait_for(healthy, 30):
        proc.kill()
        raise SystemExit("putbridge run did not become healthy")
    return proc, base, Path(hole["path"]), log


def read_log(log: Path) -> tuple[dict[str, float], list[str]]:
    """When the daemon took each drop ("taken NAME (..." lines) and what it warned about (not
    waitress's "Task queue depth": 32 callers on its threads, as expected)."""
    taken, complaints = {}, []
    for line in log.read_text(errors="replace").splitlines():
        stamp, sep, rest = line.partition(" INFO putbridge.blackhole: taken ")
        if sep:
            when = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
            taken.setdefault(rest.split(" (")[0], when)
        elif (" WARNING " in line or " ERROR " in line) and "waitress.queue" not in line:
            complaints.append(line)
    return taken, complaints


def run_ours(tmp: Path, args, drops: list[Drop], hooks: list) -> dict:
    emu, server = new_emulator(args.latency)
    answers: list[float] = []
    first: dict[str, float] = {}
    hook_first: dict[str, float] = {}

    def call(url: str, key: str) -> int:  # a connection each, as from many Sonarrs
        hook_first.setdefault(key, sent := time.time())
        body, headers = {"url": url}, {"X-Api-Key": API_KEY}
        reply = requests.post(f"{base}/api/transfers", json=body, headers=headers, timeout=60)
        answers.append(time.time() - sent)
        return reply.status_code

    unique = {k for _, _, k in drops} | {k for _, k in hooks}
    proc = None
    try:
        proc, base, folder, log = start_daemon(tmp, server, args.stable_seconds)
        daemon = psutil.Process(proc.pid)
        idle, cpu = daemon.memory_info().rss / 2**20, sum(daemon.cpu_times()[:2])
        emu.reset_stats()
        with ThreadPoolExecutor(32) as pool:
            started = time.time()
            futures = [pool.submit(call, url, key) for url, key in hooks]
            write_drops(folder, drops, first, args.direct)
            statuses = [f.result() for f in futures]
        settled = wait_for(lambda: len(emu.transfers) >= len(unique) and not drop_files(folder), 90)
        time.sleep(0.5)  # room for a late duplicate to show itself
        stats, (created, count) = emu.stats, created_by_hash(emu)
        cpu = sum(daemon.cpu_times()[:2]) - cpu
        with open(f"/proc/{proc.pid}/status") as status:  # VmHWM: the peak RSS, in kB
            peak = next(int(ln.split()[1]) for ln in status if ln.startswith("VmHWM")) / 1024
    finally:
        if proc is not None:
            proc.terminate()
            if not wait_for(lambda: proc.poll() is not None, 15):
                proc.kill()
                proc.wait()
        server.stop()
        emu.close()
    for key, sent in hook_first.items():
        first[key] = min(first.get(key, sent), sent)
    by_drop = {k for _, _, k in drops if first[k] < hook_first.get(k, float("inf"))}
    bringer: dict[str, str] = {}  # the file that brought each hash first (written in order)
    for name, _, key in drops:
        if key in by_drop:
            bringer.setdefault(key, name)
    taken, complaints = read_log(log)
    took = {k: taken[n] for k, n in bringer.items() if n in taken}
    where = ("", "processed", "failed")
    vanished = [n for n, _, _ in drops if not any((folder / d / n).exists() for d in where)]
    return {
        **{"settled": settled, "answers": answers, "statuses": statuses, "unique": len(unique)},
        "drop": [created[k] - first[k] for k in by_drop if k in created],
        "hook": [created[k] - first[k] for k in unique - by_drop if k in created],
        "waited": [t - first[k] for k, t in took.items()],
        "sent": [created[k] - t for k, t in took.items() if k in created],
        "created": count,
        "wall": max(created.values(), default=started) - started,
        "left": len(drop_files(folder)),
        "processed": len(drop_files(folder / "processed")),
        "failed": len([n for n in drop_files(folder / "failed") if not n.endswith(".reason")]),
        "lost": len({k for _, _, k in drops} - created.keys()) + len(vanished),
        **{"stats": stats, "rss": (idle, peak), "cpu": cpu, "complaints": complaints},
    }


def run_naive(tmp: Path, args, drops: list[Drop]) -> dict:
    """One thread: list the folder, then for each file read it, send it, move it; no dedupe."""
    emu, server = new_emulator(args.latency)
    folder = tmp / "naive"
    (folder / "processed").mkdir(parents=True)
    first: dict[str, float] = {}
    writer = threading.Thread(target=write_drops, args=(folder, drops, first, args.direct))
    try:
        with PutioClient(TOKEN, api_url=server.api_url, upload_url=server.upload_url) as client:
            parent = emu.file_by_path("/Movies")
            started = time.time()
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
    drop = [created[k] - first[k] for k in keys if k in created]
    wall = max(created.values()) - started
    return {"drop": drop, "created": count, "unique": len(keys), "wall": wall, "stats": stats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drops", type=int, default=1000)
    parser.add_argument("--duplicates", type=int, default=200)
    parser.add_argument("--webhook-calls", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--stable-seconds", type=float, default=None, help="default: config's")
    parser.add_argument("--direct", action="store_true", help="write drops in place, no rename")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        made = time.perf_counter()
        drops, hooks = make_inputs(tmp, args.drops, args.duplicates, args.webhook_calls)
        made = time.perf_counter() - made
        ours = run_ours(tmp, args, drops, hooks)
        naive = run_naive(tmp, args, drops)

    torrents = sum(1 for n, _, _ in drops if n.endswith(".torrent"))
    stable = args.stable_seconds
    default = f"{BlackholeSettings('').stable_seconds:g} (default)"
    print(
        f"inputs: {len(drops)} drops ({torrents} .torrent, {len(drops) - torrents} .magnet; "
        f"{args.duplicates} duplicates) + {len(hooks)} webhook calls (32 threads, 20% hashes "
        f"also dropped) = {ours['unique']} unique hashes; torf made them in {made:.1f} s"
    )
    print(
        f"emulator latency {args.latency * 1000:.0f} ms/request; drops "
        f"{'written in place' if args.direct else 'renamed into place'}; blackhole "
        f"stable_seconds {default if stable is None else stable}"
    )
    print(f"{'to transfers/add, per unique hash':34}{'from its first input':>54}")
    for label, values in [
        ("putbridge: drop", ours["drop"]),
        ("  drop -> taken by the blackhole", ours["waited"]),
        ("  taken -> transfer created", ours["sent"]),
        ("putbridge: webhook call sent", ours["hook"]),
        ("  webhook HTTP answer", ours["answers"]),
        ("naive loop: drop", naive["drop"]),
    ]:
        print(f"{label:34}{pct(values):>54}")
    codes = {c: ours["statuses"].count(c) for c in sorted(set(ours["statuses"]))}
    ok = ours["created"] == ours["unique"] and ours["settled"]
    print(
        f"transfers created: putbridge {ours['created']} for {ours['unique']} unique inputs "
        f"({'PASS' if ok else 'FAIL'}; webhook answers {codes}); naive {naive['created']} for "
        f"{naive['unique']} unique drops ({naive['created'] - naive['unique']} duplicates)"
    )
    clean = ours["left"] == 0 and ours["lost"] == 0
    print(
        f"blackhole after: {ours['left']} left, {ours['processed']} in processed/, "
        f"{ours['failed']} in failed/; lost drops {ours['lost']} ({'PASS' if clean else 'FAIL'})"
    )
    mine, theirs = p99(ours["drop"]), p99(naive["drop"])
    print(
        f"drop p99 {mine:.2f} s (target < 1 s: {'PASS' if mine < 1 else 'FAIL'}); "
        f"naive {theirs:.2f} s; ours/naive {mine / theirs:.2f}x"
    )
    print(
        f"wall, burst start -> last transfer: putbridge {ours['wall']:.2f} s "
        f"(drops and webhook calls), naive {naive['wall']:.2f} s (drops only)"
    )
    for label, run in (("putbridge", ours), ("naive", naive)):
        routes = ", ".join(f"{r} {n}" for r, n in sorted(run["stats"]["by_route"].items()))
        print(f"put.io requests, {label}: {run['stats']['requests']} ({routes})")
    idle, peak = ours["rss"]
    print(
        f"putbridge run: {ours['cpu']:.1f} CPU seconds in the burst; RSS {idle:.0f} MB idle, "
        f"{peak:.0f} MB peak; {len(ours['complaints'])} warnings/errors logged"
    )
    print("".join(f"  {line[:160]}\n" for line in ours["complaints"][:3]), end="")


if __name__ == "__main__":
    main()
