"""Scan coalescing: what media servers hear from putbridge in a burst of completions, next to a
naive notifier (one scan request per changed library file, sent at once) in the same run.

The emulator (real clock, 500 MB/s, callbacks on) and a putbridge Service with a movies and a
shows library run here; TRANSFERS single-file magnets (60% episodes of SHOWS shows over 1-3
seasons, 40% movies), shuffled, are added over SECONDS s and finish over about as long. The
Service's notifier is a tee: each notify() goes to a ScanNotifier (on the Service's store and
ledger) and to the naive side, which runs in a child process (its thousands of requests would
otherwise take the GIL from the Service it is compared with) and sends Jellyfin the file, Plex
its folder. Each side has its own fake Jellyfin and Plex (tests/fake_*.py) recording requests.

Per server: scan requests; the most requests one touched movie/show folder got within one
debounce window (target <= 1); from put.io finishing a transfer (emulator finished_at) to the
first request covering its file sent after it was in the library (target p99 <= debounce + 1 s).

  python benchmarks/scan_coalescing.py [--transfers 500] [--shows 50] [--debounce 5] [--seconds 10]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import multiprocessing
import posixpath
import queue
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ holds the fakes

from putbridge.config import LibrarySettings, MediaServerSettings, TransferSettings  # noqa: E402
from putbridge.intake.sources import parse_link  # noqa: E402
from putbridge.mediaservers import make_server  # noqa: E402
from putbridge.mediaservers.notifier import ScanNotifier, scan_folders  # noqa: E402
from putbridge.service import Service  # noqa: E402
from tests.daemon_helpers import daemon_settings, live_emulator, wait_for  # noqa: E402
from tests.fake_jellyfin import FakeJellyfin, virtual_folder  # noqa: E402
from tests.fake_plex import FakePlex, FakeSection  # noqa: E402

ADJECTIVES = "Amber Silver Crimson Hollow Quiet Distant Golden Frozen Burning Hidden Broken Velvet"
NOUNS = "Harbor Signal Orchard Lantern Meridian Canyon Falcon Compass Garden Summit Ember Ridge"
TITLES = [f"{a}.{n}" for a in ADJECTIVES.split() for n in NOUNS.split()]  # 144 titles
KINDS = ("jellyfin", "plex")
TOKEN = "bench-mediaserver-token-0123456789"
SERVER_ROOT = "/media"  # the library as the media servers see it


def releases(transfers: int, shows: int, seed: int = 5) -> list[tuple[str, str]]:
    """(magnet, put.io target), shuffled: 60% episodes of ``shows`` shows, the rest movies."""
    rng = random.Random(seed)
    episodes, names = transfers * 3 // 5, []
    for show in range(shows):
        per_show = episodes // shows + (show < episodes % shows)
        seasons = max(1, min(per_show, 1 + show % 3))
        title = TITLES[show % len(TITLES)] + f".{show // len(TITLES) + 1}" * (show >= len(TITLES))
        numbers: dict[int, int] = {}
        for k in range(per_show):
            season = 1 + k * seasons // per_show
            numbers[season] = episode = numbers.get(season, 0) + 1
            names.append((f"{title}.S{season:02d}E{episode:02d}.1080p.WEB.x264.mkv", "/TV"))
    for n in range(transfers - episodes):
        title = TITLES[(shows + n) % len(TITLES)]
        names.append((f"{title}.{1960 + n // len(TITLES)}.1080p.BluRay.x264.mkv", "/Movies"))
    rng.shuffle(names)
    key = lambda: f"{rng.getrandbits(160):040x}"  # noqa: E731
    return [(f"magnet:?xt=urn:btih:{key()}&dn={n}&xl=100000000", t) for n, t in names]


def start_fake(kind: str):
    if kind == "plex":
        movies = FakeSection("1", "Movies", "movie", [f"{SERVER_ROOT}/Movies"])
        return FakePlex(TOKEN, [movies, FakeSection("2", "TV", "show", [f"{SERVER_ROOT}/TV"])])
    libraries = [
        virtual_folder("Movies", f"{SERVER_ROOT}/Movies"),
        virtual_folder("Shows", f"{SERVER_ROOT}/TV", collection="tvshows"),
    ]
    return FakeJellyfin(token=TOKEN, libraries=libraries)


def recorded(fake) -> list[tuple[float, list[str]]]:
    """Every scan request a fake accepted: (wall time, server-side paths)."""
    offset = time.time() - time.monotonic()  # the fakes stamp with time.monotonic()
    if isinstance(fake, FakePlex):  # a refresh without a path is the whole section
        return [(r.at + offset, [r.path or SERVER_ROOT]) for r in fake.refreshes]
    return [(u.at + offset, u.paths) for u in fake.updates]


def naive_request(http: requests.Session, kind: str, url: str, path: str) -> None:
    """One scan request for one changed file, as a simple script sends it: the file to
    Jellyfin, its folder to Plex (whose section keys it knows: 1 movies, 2 TV)."""
    if kind == "plex":
        section = "1" if path.startswith(f"{SERVER_ROOT}/Movies/") else "2"
        params, headers = {"path": posixpath.dirname(path)}, {"X-Plex-Token": TOKEN}
        reply = http.get(
            f"{url}/library/sections/{section}/refresh", params=params, headers=headers, timeout=10
        )
    else:
        body = {"Updates": [{"Path": path, "UpdateType": "Created"}]}
        headers = {"Authorization": f'MediaBrowser Token="{TOKEN}"'}
        reply = http.post(f"{url}/Library/Media/Updated", json=body, headers=headers, timeout=10)
    reply.raise_for_status()


def naive_side(inbox, outbox, library: str) -> None:
    """The child process: fakes, one thread per server sending each changed file at once."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with contextlib.ExitStack() as stack:
        fakes = {kind: stack.enter_context(start_fake(kind)) for kind in KINDS}
        queues: dict[str, queue.Queue] = {kind: queue.Queue() for kind in KINDS}

        def send(kind: str) -> None:
            with requests.Session() as http:
                while (path := queues[kind].get()) is not None:
                    try:
                        naive_request(http, kind, fakes[kind].url, path)
                    except requests.RequestException as err:  # the fake's count shows it
                        print(f"naive {kind}: {err}", file=sys.stderr)

        threads = [threading.Thread(target=send, args=(kind,)) for kind in KINDS]
        for thread in threads:
            thread.start()
        outbox.put("ready")
        while (paths := inbox.get()) is not None:
            for path in paths:
                for each in queues.values():
                    each.put(SERVER_ROOT + path[len(library) :])
        for each in queues.values():
            each.put(None)  # after what is queued: the threads drain first
        for thread in threads:
            thread.join()
        outbox.put({kind: recorded(fake) for kind, fake in fakes.items()})


class Tee:
    """The Service's notifier: the real ScanNotifier (attached once the Service's store and
    ledger exist) and the naive side see the same notify() calls."""

    def __init__(self, naive) -> None:
        self.naive = naive
        self.real: ScanNotifier | None = None
        self.notified: dict[int, float] = {}  # ledger id -> when putbridge had it in the library

    def notify(self, paths, *, transfer_id=None, removed=False):
        if transfer_id is not None:
            self.notified[transfer_id] = time.time()
        if paths:
            self.naive.put([str(path) for path in paths])
        if self.real is None:  # only the start-up sync of the empty library comes this early
            return []
        return self.real.notify(paths, transfer_id=transfer_id, removed=removed)


def inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def pct(values: list[float]) -> str:
    s = sorted(values) or [float("nan")]
    return f"p50 {s[len(s) // 2]:5.2f}  p99 {p99(s):5.2f}  max {s[-1]:5.2f} s"


def p99(ordered: list[float]) -> float:
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else float("inf")


def analyse(requests, transfers, folders, debounce: float) -> dict:
    """requests: (time, paths); transfers: (finished, in library, [server-side files]); folders:
    the touched movie/show folders (server side)."""
    worst, over, gap = 0, 0, float("inf")
    for folder in folders:
        times = sorted(t for t, paths in requests if any(inside(p, folder) for p in paths))
        most = max(
            (sum(u < t + debounce for u in times[i:]) for i, t in enumerate(times)), default=0
        )
        worst, over = max(worst, most), over + (most > 1)
        gap = min([gap, *(b - a for a, b in zip(times, times[1:], strict=False))])
    latency, wait, missing = [], [], 0
    for finished, notified, files in transfers:
        covering = (t for t, paths in requests if any(inside(f, p) for f in files for p in paths))
        first = min((t for t in covering if t >= notified), default=None)
        if first is None:
            missing += 1
            continue
        latency.append(first - finished)
        wait.append(first - notified)
    found = {"n": len(requests), "worst": worst, "over": over, "gap": gap, "missing": missing}
    return found | {"latency": latency, "wait": wait, "p99": p99(sorted(latency))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=500)
    parser.add_argument("--shows", type=int, default=50)
    parser.add_argument("--debounce", type=float, default=TransferSettings().scan_debounce)
    parser.add_argument("--seconds", type=float, default=10.0, help="spread of the adds")
    args = parser.parse_args()
    warnings: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: warnings.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger().addHandler(handler)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the fakes' request lines

    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        library = str(tmp / "library")
        path_map = {library: SERVER_ROOT}  # as a Docker mount would
        ctx = multiprocessing.get_context("spawn")  # no fork of a process with threads
        inbox, outbox = ctx.Queue(), ctx.Queue()
        child = ctx.Process(target=naive_side, args=(inbox, outbox, library), name="naive")
        child.start()
        stack.callback(child.join)
        stack.callback(child.kill)  # a no-op once it has finished; if the run failed, no hang
        stack.callback(inbox.join_thread)  # its feeder thread
        stack.callback(inbox.close)
        if outbox.get(timeout=60) != "ready":
            raise SystemExit("the naive side did not start")
        emu, emu_server = stack.enter_context(live_emulator(transfer_speed=500_000_000))
        emu.add_folder("TV")
        fakes = {kind: stack.enter_context(start_fake(kind)) for kind in KINDS}
        settings = daemon_settings(tmp, emu_server, callback=True)
        settings.transfers.poll_active = TransferSettings().poll_active  # callbacks do the work
        settings.transfers.poll_idle = TransferSettings().poll_idle
        settings.blackhole = []
        roots = [f"{library}/Movies", f"{library}/TV"]
        settings.library = [
            LibrarySettings(path=roots[0], source="/Movies", layout="movies"),
            LibrarySettings(path=roots[1], source="/TV", layout="shows"),
        ]
        tee = Tee(inbox)
        service = Service(settings, notifier=tee).start()
        stack.callback(service.stop)
        servers = [
            make_server(MediaServerSettings(kind, fakes[kind].url, TOKEN, path_map=path_map))
            for kind in KINDS
        ]
        for server in servers:
            stack.callback(server.close)
        real = ScanNotifier(
            servers, service.store, roots=roots, ledger=service.ledger, debounce=args.debounce
        )
        tee.real = real
        real.start()
        stack.callback(real.stop)  # before the Service closes its store
        if not wait_for(lambda: service.last_sync is not None, timeout=30):
            raise SystemExit("the start-up sync did not finish")

        magnets = releases(args.transfers, args.shows)
        began = time.monotonic()
        for n, (link, target) in enumerate(magnets):
            time.sleep(max(0.0, began + n * args.seconds / len(magnets) - time.monotonic()))
            service.transfers.add(parse_link(link), target=target, origin="bench", wait=False)
        added = time.monotonic() - began

        settled = lambda: set(service.ledger.counts()) == {"scanned"}  # noqa: E731
        ok = wait_for(settled, timeout=60 + 4 * args.debounce, interval=0.1)
        inbox.put(None)
        naive = outbox.get(timeout=60)
        child.join(30)
        counts, records = service.ledger.counts(), service.ledger.list()
        finished = {rec.id: rec.finished_at for rec in emu.transfers.values()}
        ours = {kind: recorded(fake) for kind, fake in fakes.items()}
        calls, polls = real.requests, service.monitor.polls

    server_side = lambda path: SERVER_ROOT + path[len(library) :]  # noqa: E731
    done = sorted(t for t in finished.values() if t)
    changed = [p for rec in records for p in rec.library_paths]
    touched = scan_folders(changed, roots)
    movies = sum(1 for f in touched if f.startswith(roots[0] + "/"))
    transfers = [
        (finished[rec.putio_id], tee.notified[rec.id], [server_side(p) for p in rec.library_paths])
        for rec in records
        if rec.library_paths and rec.id in tee.notified and finished.get(rec.putio_id)
    ]
    folders = [server_side(f) for f in touched]
    episodes = len(magnets) * 3 // 5
    print(
        f"{len(magnets)} transfers added over {added:.1f} s ({episodes} episodes of {args.shows} "
        f"shows, {len(magnets) - episodes} movies); put.io finished {len(done)} within "
        f"{done[-1] - done[0]:.1f} s; debounce {args.debounce:g} s"
    )
    print(
        f"library: {len(changed)} changed files in {len(touched)} touched folders ({movies} "
        f"movies, {len(touched) - movies} shows); {polls} polls; ledger {counts}"
        + ("" if ok else " (NOT SETTLED in time)")
    )
    print(f"finished on put.io -> in the library: {pct([n - f for f, n, _ in transfers])}")
    for kind in KINDS:
        mine = analyse(ours[kind], transfers, folders, args.debounce)
        theirs = analyse(naive[kind], transfers, folders, args.debounce)
        print(
            f"== {kind}: scan requests putbridge {mine['n']}, naive {theirs['n']} "
            f"(naive/putbridge {theirs['n'] / max(1, mine['n']):.1f}x); putbridge made {calls} "
            "scan calls over both servers"
        )
        print(
            f"  most requests for one folder in a {args.debounce:g} s window: putbridge "
            f"{mine['worst']} ({mine['over']} folders over 1, shortest gap {mine['gap']:.3f} s; "
            f"target <= 1: {'PASS' if mine['worst'] <= 1 else 'FAIL'}); naive {theirs['worst']} "
            f"({theirs['over']} folders over 1)"
        )
        for label, run in (("putbridge", mine), ("naive", theirs)):
            print(
                f"  {label:9} finished -> scan request: {pct(run['latency'])}; in library -> scan "
                f"request: {pct(run['wait'])}; {run['missing']} never covered"
            )
        verdict = "PASS" if mine["p99"] <= args.debounce + 1 else "FAIL"
        print(f"  putbridge p99 {mine['p99']:.2f} s (target <= {args.debounce + 1:g} s: {verdict})")
    print(f"transfers ended scanned: {counts.get('scanned', 0)} of {len(magnets)}")
    noise = [w for w in warnings if "put.io cannot reach" not in w]
    print(f"{len(noise)} warnings/errors logged" + "".join(f"\n  {w[:160]}" for w in noise[:3]))


if __name__ == "__main__":
    main()
