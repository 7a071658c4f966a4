"""File operations of a blackhole folder: which names are drops, and moving a drop aside to
``processed/`` or ``failed/`` without ever overwriting or half-writing anything."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from putbridge.intake.sources import DROP_SUFFIXES

REASON = ".reason"
NAME_MAX = 255  # bytes in a file name on ext4, xfs, btrfs, zfs and SMB shares


def is_drop_name(name: str) -> bool:
    """True for a file name a blackhole takes: not hidden, a suffix in DROP_SUFFIXES. Anything
    else (``.part``, ``.tmp``, a stray ``.nfo``) is not a drop: neither submitted nor failed."""
    return not name.startswith((".", "~")) and os.path.splitext(name)[1].lower() in DROP_SUFFIXES


def shown(name: str) -> str:
    """A file name for a log line or a .reason file: as is when printable, else escaped (names
    may hold line breaks or undecodable bytes)."""
    return name if name.isprintable() else repr(name)


def free_name(folder: Path, name: str, reserve: int = 0) -> Path:
    """A path in ``folder`` for ``name`` that does not exist yet: "a (2).torrent" on a clash.
    The stem is cut (whole characters) so the name plus ``reserve`` bytes fits in NAME_MAX."""
    stem, suffix = os.path.splitext(name)
    for n in range(1, 1_000_000):
        tail = suffix if n == 1 else f" ({n}){suffix}"
        short = stem
        while len(os.fsencode(short + tail)) > NAME_MAX - reserve:
            short = short[:-1]
        if not os.path.lexists(folder / (short + tail)):
            return folder / (short + tail)
    raise OSError(f"no free name for {name!r} in {folder}")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` so that ``path`` is either absent or complete, even after a crash."""
    tmp = path.with_name(f".putbridge-{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def move_aside(path: Path, folder: Path, reason: str | None = None) -> Path:
    """Move the drop ``path`` into ``folder`` under a free name and return where it went.

    With a ``reason``, ``NAME.reason`` is written first, so a crash in between leaves at worst a
    stray .reason and the drop still in the blackhole (retried; the .reason is then rewritten).
    The caller serializes calls for one folder: two drops named alike must not pick one name.
    FileNotFoundError: the drop was gone (no .reason is left behind for it).
    """
    folder.mkdir(exist_ok=True)
    dest = free_name(folder, path.name, len(REASON) if reason is not None else 0)
    reason_path = dest.with_name(dest.name + REASON)
    if reason is not None:
        if not path.exists():
            raise FileNotFoundError(path)
        write_atomic(reason_path, reason)
    try:
        os.replace(path, dest)
    except OSError:
        if reason is not None:
            reason_path.unlink(missing_ok=True)
        raise
    return dest
