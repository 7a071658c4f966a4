"""The MediaServer interface: one class per kind (Plex, Jellyfin, Emby, Kodi), each able to say
whether it is reachable (``check``) and to rescan given folders (``scan``).

Folders handed to ``scan`` are already as the server sees them: ``map_path`` turns a bridge path
into a server path through the ``path_map`` of its settings (a Docker container often mounts the
library elsewhere than putbridge does).
"""

from __future__ import annotations

import posixpath
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests

from putbridge.config import MediaServerSettings

T = TypeVar("T")


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str  # one line a person reads
    roots: list[str]  # library root folders as the server sees them


@dataclass(frozen=True)
class ScanResult:
    ok: bool
    detail: str
    deferred: bool = False  # the server is busy scanning that library: ask again later
    # With ``deferred``: the folders still to scan (the others were sent); empty: all of them.
    pending: list[str] = field(default_factory=list)


class MediaServer(ABC):
    """A media server putbridge tells about new files. Subclasses set ``kind``."""

    kind: ClassVar[str]

    def __init__(
        self, settings: MediaServerSettings, *, session: requests.Session | None = None
    ) -> None:
        self.settings = settings
        self.name = settings.name or settings.kind
        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()

    def map_path(self, path: str) -> str:
        """A bridge path as this server sees it: the longest ``path_map`` prefix (whole path
        components only) replaced; a path no prefix covers is returned as it is."""
        best: tuple[str, str] | None = None
        for prefix, target in self.settings.path_map.items():
            prefix = prefix.rstrip("/") or "/"
            inside = path == prefix or path.startswith(prefix.rstrip("/") + "/")
            if inside and (best is None or len(prefix) > len(best[0])):
                best = (prefix, target.rstrip("/") or "/")
        if best is None:
            return path
        prefix, target = best
        rest = path[len(prefix) :].lstrip("/")
        return posixpath.join(target, rest) if rest else target

    @abstractmethod
    def check(self) -> CheckResult:
        """Reachable, authenticated, and which library roots it has. Never raises for a server
        that is down or refuses the credentials: ``ok`` is False and ``detail`` says why."""

    @abstractmethod
    def scan(self, folders: list[str], *, removed: bool = False) -> ScanResult:
        """Rescan these server-side folders. Raises MediaServerError when the server is down or
        refuses (the notifier tries again later)."""

    @abstractmethod
    def locate(self, folder: str) -> str:
        """Which section or source holds a server-side folder (for `putbridge test-scan`)."""

    def selected(self, name: str) -> bool:
        """Whether the library (section, source) called ``name`` is one to scan: all are when
        ``libraries`` is empty; names compare without case and outer spaces."""
        wanted = {n.strip().casefold() for n in self.settings.libraries}
        return not wanted or name.strip().casefold() in wanted

    def missing_libraries(self, names: Iterable[str]) -> list[str]:
        """The configured ``libraries`` the server has no library (section, source) for."""
        known = {name.strip().casefold() for name in names}
        return [n for n in self.settings.libraries if n.strip().casefold() not in known]

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def __repr__(self) -> str:
        url = without_userinfo(self.settings.url)
        return f"{type(self).__name__}(name={self.name!r}, url={url!r})"


def inside(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` or below it, by whole components ("/data/TV2" is not in
    "/data/TV"); either separator, since a Windows server reports ``D:\\Media``."""
    trimmed = root.rstrip("/\\")
    if not trimmed:
        return path.startswith(root[:1]) if root else False
    if path.rstrip("/\\") == trimmed:
        return True
    return path.startswith(trimmed) and path[len(trimmed)] in "/\\"


def longest_holder(folder: str, libraries: Iterable[T], paths: Callable[[T], list[str]]):
    """The library (and which of its paths) holding ``folder``: the longest path wins."""
    best = None
    for library in libraries:
        for path in paths(library):
            if inside(folder, path) and (best is None or len(path) > len(best[1])):
                best = (library, path)
    return best


def without_userinfo(url: str) -> str:
    """A URL fit to print: any user:password@ taken out."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")
SNIPPET = 120


def connection_reason(err: Exception) -> str:
    """The short cause of a connection error ("Connection refused"), not urllib3's essay."""
    match = _ERRNO.search(str(err))
    if match:
        return match.group(1).strip()
    text = str(err)
    for marker in ("Name or service not known", "No route to host", "Connection reset"):
        if marker in text:
            return marker
    return type(err).__name__


def snippet(text: str) -> str:
    """A server's answer cut to one short line for an error message."""
    text = " ".join(text.split())
    return text[:SNIPPET] + ("…" if len(text) > SNIPPET else "")


def count_folders(folders: list[str]) -> str:
    return f"{len(folders)} folder" + ("" if len(folders) == 1 else "s")


class ListingCache:
    """A server's last listing of its libraries, reused for ``ttl`` seconds by the scans (the
    checks and test-scan always ask afresh)."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._at: float | None = None
        self._value: Any = None

    def put(self, value: T) -> T:
        self._at, self._value = time.monotonic(), value
        return value

    def get(self, fetch: Callable[[], T]) -> T:
        if self._at is not None and time.monotonic() - self._at < self.ttl:
            return self._value
        return fetch()
