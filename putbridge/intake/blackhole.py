"""Blackhole folders: .torrent and .magnet files dropped by Sonarr, Radarr or a person.

A watchdog observer (inotify, or polling for NAS and network mounts) only wakes the scanner; the
scanner also rescans on its own, so nothing depends on an event arriving. A drop renamed into
place (inotify's moved-to) is taken at once; any other is taken once its size and mtime have not
changed for ``stable_seconds``, so a half-written drop is never submitted. Ready drops go, oldest
first, to a few worker threads; a path is never handled by two at once. Files considered: those
directly in the blackhole and in each category subfolder with a suffix in DROP_SUFFIXES. Hidden
files, other suffixes (``.part``, ``.tmp``, a stray ``.nfo``: not drops, so neither submitted nor
failed), ``processed/``, ``failed/`` and other subfolders are left alone.

A drop is always in exactly one place: the blackhole, ``processed/`` or ``failed/`` (both in the
blackhole root; clashes get " (2)", " (3)"...). After a crash: a drop submitted but not yet moved
is taken again and the transfer ledger dedupes it; a refused drop gets ``failed/NAME.reason``
(temp file + ``os.replace``) *before* it is moved next to it, so a crash in between leaves at
worst a stray ``.reason`` and the drop still in the blackhole, retried (the ``.reason`` rewritten).
"""

from __future__ import annotations

import logging
import os
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from putbridge.config import BlackholeSettings
from putbridge.errors import ConfigError, IntakeError, PutioError, RateLimited, ShuttingDown
from putbridge.intake.dropfiles import is_drop_name, move_aside, shown
from putbridge.intake.sources import Source, read_drop
from putbridge.intake.submit import is_permanent
from putbridge.intake.watching import Waker, start_observer

log = logging.getLogger("putbridge.blackhole")

PROCESSED, FAILED = "processed", "failed"
DONE, RETRY, CHANGED, DEFER = "done", "retry", "changed", "defer"  # what became of a drop


@dataclass(slots=True, eq=False)
class _Drop:
    path: Path
    rel: str  # relative to the blackhole root, printable: for log lines and .reason files
    target: str
    sig: tuple[int, int]  # (size, mtime_ns)
    since: float  # clock() when first seen with this signature
    attempts: int = 0  # failed tries in a row
    next_try: float = 0.0
    busy: bool = False  # a worker (or scan_now) has it
    handled: bool = False  # tried at least once: scan_now stops waiting for it


class BlackholeWatcher:
    """Watches one blackhole folder and its category subfolders and submits what is dropped.

    ``add(source, target)`` returns on success or duplicate; IntakeError or a permanent PutioError
    (see ``is_permanent``) sends the drop to ``failed/`` with ``NAME.reason``; any other PutioError
    or an OSError leaves it, retried with backoff (``retry_base`` doubling up to ``retry_max``,
    jittered), and the whole blackhole waits as long: put.io being down concerns every drop.
    ``stable_seconds`` None means the settings' value.
    """

    def __init__(
        self,
        settings: BlackholeSettings,
        add: Callable[[Source, str], None],
        *,
        stable_seconds: float | None = None,
        retry_base: float = 5.0,
        retry_max: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        workers: int = 4,
    ) -> None:
        self.settings = settings
        self.root = Path(settings.path).expanduser().absolute()
        self._add = add
        self._stable = settings.stable_seconds if stable_seconds is None else stable_seconds
        self._retry_base, self._retry_max = retry_base, retry_max
        self._clock = clock
        self._workers = max(1, workers)
        self._folders: list[tuple[Path, str]] = [(self.root, settings.target)]
        for name, target in settings.categories.items():
            if name.lower() in ("", PROCESSED, FAILED) or name.startswith(".") or "/" in name:
                raise ConfigError(
                    f"blackhole {settings.path}: category {name!r} must be a plain subfolder "
                    f"name (not hidden, not {PROCESSED!r} or {FAILED!r})"
                )
            self._folders.append((self.root / name, target))
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)
        self._move_lock = threading.Lock()  # choosing a free name and moving there: one step
        self._drops: dict[Path, _Drop] = {}
        # Drops renamed into place or closed after writing (watchdog's thread adds them), with
        # how long they must then keep their size: no waiting out stable_seconds for those.
        self._placed: dict[Path, float] = {}
        self._hold_until = 0.0  # after a transient error nothing is submitted before this
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._queue: queue.Queue[_Drop | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._observer: BaseObserver | None = None

    def start(self) -> None:
        """Create the folders; start the observer, the scanner (its first pass is the start-up
        scan of what is already there) and the workers."""
        if self._threads:
            raise RuntimeError("a BlackholeWatcher starts once")
        # processed/ and failed/ now too: a move into a folder watched from the start is a paired
        # inotify move, which watchdog does not hold back (see _start_observer).
        extra = [FAILED] + ([PROCESSED] if self.settings.after == "move" else [])
        for folder in [f for f, _ in self._folders] + [self.root / x for x in extra]:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise ConfigError(f"blackhole folder {folder} cannot be created: {err}") from err
        name = self.root.name or str(self.root)
        try:
            self._observer = self._start_observer()
            self._spawn(self._run_scanner, f"blackhole-scan:{name}")
            for i in range(self._workers):
                self._spawn(self._run_worker, f"blackhole-worker-{i + 1}:{name}")
        except BaseException:
            self.stop()
            raise
        how = "polling" if isinstance(self._observer, PollingObserver) else "inotify"
        log.info(
            "watching blackhole %s (%s, %d categories)", self.root, how, len(self._folders) - 1
        )

    def _start_observer(self) -> BaseObserver:
        return start_observer(
            self.root,
            [folder for folder, _ in self._folders],
            Waker(self._wake, [self.root / PROCESSED, self.root / FAILED], self._placed),
            polling=self.settings.polling,
            poll_interval=self.settings.poll_interval,
        )

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop and join the observer, scanner and workers. A drop being submitted finishes
        first."""
        deadline = time.monotonic() + timeout
        self._stop.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(max(0.0, deadline - time.monotonic()))
        if self._threads:
            self._threads[0].join(max(0.0, deadline - time.monotonic()))  # the scanner
        while True:  # what was queued stays in the blackhole for the next start
            try:
                drop = self._queue.get_nowait()
            except queue.Empty:
                break
            if drop is not None:
                self._settle(drop, DEFER)
        for _ in range(self._workers):
            self._queue.put(None)
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in self._threads if t.is_alive()]
        if self._observer is not None and self._observer.is_alive():
            stuck.append("observer")
        if stuck:
            log.warning("blackhole %s: still running after %.1fs: %s", self.root, timeout, stuck)

    def running(self) -> bool:
        """Whether any of its threads still runs (after stop(): one that outlived the wait)."""
        return any(t.is_alive() for t in self._threads)

    def is_alive(self) -> bool:
        """True while the observer, the scanner and every worker run."""
        threads = [self._observer, *self._threads] if self._observer is not None else []
        return not self._stop.is_set() and bool(threads) and all(t.is_alive() for t in threads)

    def scan_now(self, timeout: float = 30.0) -> bool:
        """Process what is in the blackhole now, in this thread, waiting for drops to be stable.

        Returns True once every drop present at the call was handled at least once (submitted,
        failed, or put back for a retry), False if ``timeout`` ran out first. Works whether or
        not the watcher was started; a drop a worker has is waited for, never taken twice.
        """
        deadline = self._clock() + timeout
        waiting: set[Path] | None = None
        while True:
            ready, wake_at = self._scan()
            for drop in ready:
                self._handle_safely(drop)
            if ready:
                continue  # handling moves deadlines: look again before waiting
            with self._lock:
                if waiting is None:
                    waiting = set(self._drops)
                waiting = {p for p in waiting if self._pending(p)}
                now = self._clock()
                if not waiting or now >= deadline:
                    return not waiting
                until = deadline if wake_at is None else min(deadline, wake_at)
                self._settled.wait(max(0.005, until - now))

    def _pending(self, path: Path) -> bool:
        drop = self._drops.get(path)
        return drop is not None and (drop.busy or not drop.handled)

    # -- scanning ---------------------------------------------------------------------------

    def _run_scanner(self) -> None:
        debounce = min(0.05, self._stable / 4)
        while not self._stop.is_set():
            self._wake.clear()
            try:
                ready, wake_at = self._scan()
            except Exception:
                log.exception("blackhole %s: scan failed", self.root)
                ready, wake_at = [], None
            for drop in ready:
                self._queue.put(drop)
            timeout = self.settings.poll_interval
            if wake_at is not None:
                timeout = min(timeout, max(0.01, wake_at - self._clock()))
            if self._wake.wait(timeout) and not self._stop.is_set():
                self._stop.wait(debounce)  # a burst of events becomes one scan, not 1,000

    def _list(self) -> dict[Path, tuple[str, tuple[int, int]]]:
        """Every candidate drop with its target and (size, mtime_ns): one stat each."""
        found: dict[Path, tuple[str, tuple[int, int]]] = {}
        for folder, target in self._folders:
            try:
                entries = os.scandir(folder)
            except OSError as err:
                log.debug("blackhole folder %s unreadable: %s", folder, err)
                continue
            with entries:
                for entry in entries:
                    try:
                        if is_drop_name(entry.name) and entry.is_file():
                            st = entry.stat()
                            found[Path(entry.path)] = (target, (st.st_size, st.st_mtime_ns))
                    except OSError:  # gone between listing and stat
                        continue
        return found

    def _scan(self) -> tuple[list[_Drop], float | None]:
        """Stat every candidate in one pass; return those stable long enough (marked busy,
        oldest first) and when to look again."""
        t0 = self._clock()
        found = self._list()
        t1 = self._clock()  # a new signature counts from here: the pass itself is not "stable"
        ready: list[_Drop] = []
        wake_at: float | None = None
        with self._lock:
            for path in [p for p, d in self._drops.items() if p not in found and not d.busy]:
                del self._drops[path]
            # Only those this pass found: one renamed in after the listing waits for the next.
            placed = {p: self._placed.pop(p) for p in list(self._placed) if p in found}
            if len(self._placed) > 10_000:  # events for files gone before any pass saw them
                self._placed.clear()
            for path, (target, sig) in found.items():
                drop = self._drops.get(path)
                since = t1  # settled from this pass on, unless it was renamed in or closed
                if path in placed:
                    since = t0 - self._stable + min(placed[path], self._stable)
                if drop is None or (drop.sig != sig and not drop.busy):
                    rel = shown(os.path.relpath(path, self.root))
                    self._drops[path] = _Drop(path, rel, target, sig, since)
                elif path in placed and not drop.busy:
                    drop.since = min(drop.since, since)
            if any(not d.handled for d in self._drops.values()):
                # Drops are arriving: look again soon rather than wait for events, which
                # watchdog holds back up to 0.5 s behind a move it is still pairing.
                wake_at = t1 + max(0.02, self._stable / 2)
            for drop in self._drops.values():
                if drop.busy:
                    continue
                when = max(drop.since + self._stable, drop.next_try, self._hold_until)
                if when <= t0:
                    drop.busy = True
                    ready.append(drop)
                elif wake_at is None or when < wake_at:
                    wake_at = when
        ready.sort(key=lambda d: (d.sig[1], d.rel))
        return ready, wake_at

    # -- handling one drop ------------------------------------------------------------------

    def _run_worker(self) -> None:
        while (drop := self._queue.get()) is not None:
            if self._stop.is_set():
                self._settle(drop, DEFER)  # left in the blackhole for the next start
            else:
                self._handle_safely(drop)

    def _handle_safely(self, drop: _Drop) -> None:
        try:
            self._handle(drop)
        except Exception:  # a bug of ours: keep the thread and the drop, try again later
            log.exception("blackhole: handling %s failed unexpectedly", drop.rel)
            self._settle(drop, RETRY, self._backoff(drop, None))

    def _handle(self, drop: _Drop) -> None:
        if self._clock() < self._hold_until:
            return self._settle(drop, DEFER)
        try:
            source = read_drop(drop.path)
            st = drop.path.stat()
        except (IntakeError, FileNotFoundError) as err:
            if not drop.path.exists():
                log.debug("blackhole: %s disappeared before it was taken", drop.rel)
                return self._settle(drop, DONE)
            return self._fail(drop, str(err))
        except OSError as err:
            return self._retry(drop, err)
        if (st.st_size, st.st_mtime_ns) != drop.sig:
            # Written to again after a pause longer than stable_seconds: wait for it to settle.
            log.debug("blackhole: %s changed while being read; waiting", drop.rel)
            return self._settle(drop, CHANGED, sig=(st.st_size, st.st_mtime_ns))
        level = logging.INFO if drop.attempts == 0 else logging.DEBUG
        log.log(level, "taken %s (%s) -> %s", drop.rel, source.name, drop.target)
        try:
            self._add(source, drop.target)
        except ShuttingDown:
            return self._settle(drop, DEFER, self._retry_base)
        except IntakeError as err:
            return self._fail(drop, str(err))
        except PutioError as err:
            if is_permanent(err):
                return self._fail(drop, f"put.io refused it: {err}")
            return self._retry(drop, err)
        except OSError as err:
            return self._retry(drop, err)
        self._done(drop)

    def _done(self, drop: _Drop) -> None:
        retried = f" after {drop.attempts + 1} attempts" if drop.attempts else ""
        try:
            if self.settings.after == "delete":
                drop.path.unlink()
                where = "deleted"
            else:
                where = f"moved to {PROCESSED}/{shown(self._move(drop, PROCESSED).name)}"
        except FileNotFoundError:
            where = "it was gone before it could be tidied"
        except OSError as err:
            # Submitted but stuck here: taken again later, and the transfer ledger dedupes it.
            level = logging.ERROR if drop.attempts == 0 else logging.DEBUG
            log.log(level, "submitted %s but could not tidy it away: %s", drop.rel, err)
            return self._settle(drop, RETRY, self._backoff(drop, None))
        log.info("submitted %s%s, %s", drop.rel, retried, where)
        self._settle(drop, DONE)

    def _fail(self, drop: _Drop, reason: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        text = f"{reason}\n\ndrop: {drop.rel}\ntarget: {drop.target}\nfailed at: {stamp}\n"
        try:
            dest = self._move(drop, FAILED, reason=text)
        except FileNotFoundError:
            log.debug("blackhole: %s disappeared before it was moved to failed/", drop.rel)
            return self._settle(drop, DONE)
        except OSError as err:
            level = logging.ERROR if drop.attempts == 0 else logging.DEBUG
            log.log(level, "%s was refused (%s) but stays: %s", drop.rel, reason, err)
            return self._settle(drop, RETRY, self._backoff(drop, None))
        log.warning("failed %s: %s (moved to %s/%s)", drop.rel, reason, FAILED, shown(dest.name))
        self._settle(drop, DONE)

    def _retry(self, drop: _Drop, err: BaseException) -> None:
        delay = self._backoff(drop, err)
        level = logging.WARNING if drop.attempts == 0 else logging.DEBUG  # once per episode
        log.log(level, "%s not submitted (%s); retrying in %.1fs", drop.rel, err, delay)
        with self._lock:
            self._hold_until = max(self._hold_until, self._clock() + delay)
        self._settle(drop, RETRY, delay)

    def _backoff(self, drop: _Drop, err: BaseException | None) -> float:
        delay = min(self._retry_max, self._retry_base * 2**drop.attempts)
        if isinstance(err, RateLimited) and err.retry_after:
            delay = max(delay, min(self._retry_max, err.retry_after))
        return delay * random.uniform(0.9, 1.1)  # jitter: several blackholes do not align

    def _move(self, drop: _Drop, folder_name: str, reason: str | None = None) -> Path:
        with self._move_lock:  # two drops named alike must not pick the same free name
            return move_aside(drop.path, self.root / folder_name, reason)

    def _settle(
        self, drop: _Drop, outcome: str, delay: float = 0.0, sig: tuple[int, int] | None = None
    ) -> None:
        with self._lock:
            if outcome == DONE:
                if self._drops.get(drop.path) is drop:
                    del self._drops[drop.path]
            elif outcome == CHANGED and sig is not None:
                drop.busy = False
                drop.sig, drop.since = sig, self._clock()
            else:
                drop.busy = False
                drop.handled = True
                drop.attempts += outcome == RETRY
                if delay:
                    drop.next_try = self._clock() + delay
            self._settled.notify_all()
        if outcome != DONE:
            self._wake.set()  # the scanner's next deadline moved
