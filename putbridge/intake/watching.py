"""The watchdog side of a blackhole: an observer (inotify, or polling) whose handler only wakes
the watcher's scanner and notes drops renamed into place; never any work in watchdog's thread."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from putbridge.intake.dropfiles import is_drop_name

log = logging.getLogger("putbridge.blackhole")

# How long a drop closed after writing must keep its size before it is taken (a writer that
# appends in several open/close rounds with longer pauses is caught by stable_seconds instead).
CLOSED_GRACE = 0.2


class _ShutdownNoise(logging.Filter):
    """watchdog's inotify emitter logs an ERROR when stopped while reading, a benign race at
    shutdown (gorakhargosh/watchdog#963): not an error for putbridge's users."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "called when the thread is inactive" not in record.getMessage()


class Waker(FileSystemEventHandler):
    """Runs in watchdog's thread: only wakes the scanner, never does work there."""

    def __init__(self, wake: threading.Event, quiet: list[Path], placed: dict[Path, float]) -> None:
        self._wake = wake
        self._quiet = tuple(f"{folder}{os.sep}" for folder in quiet)
        self._placed = placed

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):  # our own reads
            return
        paths = [os.fsdecode(p) for p in (event.src_path, event.dest_path) if p]
        if all(p.startswith(self._quiet) for p in paths):  # only in processed/, failed/
            return
        if event.event_type in ("moved", "closed") and not event.is_directory:
            # Renamed into place: the writer is done with it. Closed after writing: done unless
            # it reopens the file soon, so a short look at its size still follows.
            path = os.fsdecode(event.dest_path if event.event_type == "moved" else event.src_path)
            if path and not path.startswith(self._quiet) and is_drop_name(os.path.basename(path)):
                self._placed[Path(path)] = 0.0 if event.event_type == "moved" else CLOSED_GRACE
        self._wake.set()


def start_observer(
    root: Path,
    folders: list[Path],
    handler: FileSystemEventHandler,
    *,
    polling: bool,
    poll_interval: float,
) -> BaseObserver:
    """A started observer sending ``root``'s events to ``handler``: inotify unless ``polling``
    (or inotify is unavailable), then a PollingObserver over ``folders`` only."""
    if not polling:
        inotify_log = logging.getLogger("watchdog.observers.inotify")
        if not any(isinstance(f, _ShutdownNoise) for f in inotify_log.filters):
            inotify_log.addFilter(_ShutdownNoise())
        try:
            # One recursive watch, so that a drop moved to processed/ is a paired move:
            # watchdog holds an unpaired IN_MOVED_FROM 0.5 s, and later events wait behind it.
            # Full events: a drop moved in from another folder is a move with a destination
            # (taken at once), not a bare creation.
            return _observe(_inotify_observer(), handler, [(root, True)])
        except OSError as err:  # out of inotify instances or watches (common in containers)
            log.warning("blackhole %s: inotify unavailable (%s); polling instead", root, err)
    # A poll stats every file watched: only the folders drops are taken from.
    return _observe(
        PollingObserver(timeout=poll_interval), handler, [(folder, False) for folder in folders]
    )


def _inotify_observer() -> BaseObserver:
    try:
        return Observer(generate_full_events=True)
    except TypeError:  # not inotify (another OS): its observer has no such option
        return Observer()


def _observe(
    observer: BaseObserver, handler: FileSystemEventHandler, watches: list[tuple[Path, bool]]
) -> BaseObserver:
    try:
        for path, recursive in watches:
            observer.schedule(handler, str(path), recursive=recursive)
        observer.start()
    except BaseException:
        observer.stop()
        raise
    return observer
