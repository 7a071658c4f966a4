"""Plex: targeted partial scans through python-plexapi.

A folder is scanned with ``GET /library/sections/{key}/refresh?path=…`` of the section whose
``Location`` holds it (plexapi's ``LibrarySection.update(path=…)``). plexapi has no helper that
finds that section, so it is done here: whole path components, the longest location wins, and a
Plex on Windows (``D:\\Media``) is matched without regard to case or slash direction.

A section that is refreshing is not sent more work: the call says ``deferred`` and the notifier
asks again later, so the paths gathered meanwhile go in one go once the refresh is over.
"""

from __future__ import annotations

import logging
import posixpath
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from xml.etree.ElementTree import ParseError

import requests
from plexapi.exceptions import PlexApiException, Unauthorized
from plexapi.library import LibrarySection, MovieSection, MusicSection, PhotoSection, ShowSection
from plexapi.server import PlexServer as PlexApiServer

from putbridge.config import MediaServerSettings
from putbridge.errors import MediaServerError

from .base import CheckResult, MediaServer, ScanResult, without_userinfo

log = logging.getLogger("putbridge.mediaservers.plex")

SECTIONS_KEY = "/library/sections"
# The classes plexapi's Library._loadSections picks by section type.
SECTION_CLASSES = {
    "movie": MovieSection,
    "show": ShowSection,
    "artist": MusicSection,
    "photo": PhotoSection,
}
_WINDOWS = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\)")
# More folders than this in one section are counted in the detail, not listed.
_LISTED = 3


def _is_windows(path: str) -> bool:
    return bool(_WINDOWS.match(path))


def _parts(path: str, windows: bool) -> tuple[str, ...]:
    if windows:
        return tuple(p for p in re.split(r"[\\/]+", path.casefold()) if p)
    return tuple(p for p in posixpath.normpath(path).split("/") if p)


def _depth_inside(folder: str, location: str) -> int | None:
    """How many components ``location`` has when ``folder`` is inside it (or is it), else None.
    Whole components only: /data/Movies2 is not inside /data/Movies."""
    windows = _is_windows(location)
    loc = _parts(location, windows)
    sub = _parts(folder, windows)
    return len(loc) if sub[: len(loc)] == loc else None


def _server_form(folder: str, location: str) -> str:
    """The folder spelled as Plex spells its location: a Windows Plex gets backslashes and its
    own spelling of the location part (the path_map may have joined with '/')."""
    if not _is_windows(location):
        return posixpath.normpath(folder)
    rest = _parts(folder, True)[len(_parts(location, True)) :]
    original = [p for p in re.split(r"[\\/]+", folder) if p]
    tail = original[len(original) - len(rest) :] if rest else []
    return "\\".join([location.rstrip("\\/"), *tail])


@dataclass
class _Plan:
    section: LibrarySection
    paths: list[str] = field(default_factory=list)


class PlexServer(MediaServer):
    """A Plex Media Server reached with plexapi; connects on first use and again after an error."""

    kind = "plex"

    def __init__(
        self, settings: MediaServerSettings, *, session: requests.Session | None = None
    ) -> None:
        super().__init__(settings, session=session)
        self._plex: PlexApiServer | None = None
        # plexapi objects cache state; one operation at a time keeps them consistent.
        self._lock = threading.RLock()
        self._label = (
            f"Plex {self.name!r} at {without_userinfo(settings.url)}"
            if settings.name
            else f"Plex at {without_userinfo(settings.url)}"
        )

    # -- connection and errors ------------------------------------------------------------------

    def _fail(self, message: str) -> MediaServerError:
        text = f"{self._label}: {message}"
        if self.settings.token:
            text = text.replace(self.settings.token, "<token>")
        return MediaServerError(text)

    def _reason(self, exc: BaseException) -> str:
        if isinstance(exc, Unauthorized):
            return "unauthorised: Plex refused the token (HTTP 401)"
        if isinstance(exc, PlexApiException):
            # plexapi says "(500) internal_server_error; <url> <body>": keep the status only.
            status = re.match(r"\((\d{3})\)", str(exc))
            return f"HTTP {status.group(1)}" if status else type(exc).__name__
        if isinstance(exc, requests.Timeout):
            return f"no answer within {self.settings.timeout:g} s"
        if isinstance(exc, requests.exceptions.SSLError):
            return "TLS error"
        if isinstance(exc, requests.ConnectionError):
            text = str(exc).lower()
            if "refused" in text:
                return "connection refused"
            if "resolve" in text or "name or service" in text:
                return "host name not resolved"
            return "cannot connect"
        if isinstance(exc, ParseError):
            return "the answer is not valid XML"
        if isinstance(exc, TypeError):
            # plexapi cannot describe a status requests has no name for (520, 522…: proxies).
            return "unexpected HTTP answer"
        return type(exc).__name__

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """plexapi and requests errors become one MediaServerError line (never with the token);
        any error drops the connection so the next call connects afresh."""
        try:
            yield
        except MediaServerError:
            self._plex = None
            raise
        except (PlexApiException, requests.RequestException, ParseError, TypeError) as exc:
            self._plex = None
            raise self._fail(f"{self._reason(exc)} ({action})") from None

    def _connect(self) -> PlexApiServer:
        if self._plex is None:
            with self._guard("connecting"):
                plex = PlexApiServer(
                    self.settings.url,
                    self.settings.token,
                    session=self.session,
                    timeout=self.settings.timeout,
                )
            if getattr(plex, "machineIdentifier", None) is None:
                raise self._fail("the answer is not a Plex server's (connecting)")
            self._plex = plex
        return self._plex

    def _sections(self, plex: PlexApiServer) -> list[LibrarySection]:
        """The sections as they are now (plexapi caches ``library.sections()`` for the life of the
        connection; a fresh list shows new sections and the current ``refreshing``)."""
        with self._guard("listing sections"):
            data = plex.query(SECTIONS_KEY)
        if data is None or data.tag != "MediaContainer":
            self._plex = None
            raise self._fail("the answer is not a list of sections (listing sections)")
        return [
            SECTION_CLASSES.get(elem.attrib.get("type"), LibrarySection)(
                plex, elem, initpath=SECTIONS_KEY
            )
            for elem in data
            if elem.tag == "Directory" and elem.attrib.get("key")
        ]

    def _listed(self, section: LibrarySection) -> bool:
        return self.selected(section.title or "")

    # -- matching -------------------------------------------------------------------------------

    @staticmethod
    def _holders(folder: str, sections: list[LibrarySection]) -> list[tuple[LibrarySection, str]]:
        """(section, location) pairs with the deepest location holding the folder; several when
        the same folder is in more than one section."""
        best: list[tuple[LibrarySection, str]] = []
        best_depth = -1
        for section in sections:
            for location in section.locations:
                depth = _depth_inside(folder, location)
                if depth is None or depth < best_depth:
                    continue
                if depth > best_depth:
                    best, best_depth = [], depth
                if not any(s is section for s, _ in best):
                    best.append((section, location))
        return best

    @staticmethod
    def _held(folder: str, sections: list[LibrarySection]) -> list[tuple[LibrarySection, str]]:
        """(section, location) pairs whose location lies below the folder (a folder above the
        library roots: scanning those locations is narrower than the whole library)."""
        return [
            (section, location)
            for section in sections
            for location in section.locations
            if _depth_inside(location, folder) is not None
            and _is_windows(location) == _is_windows(folder)
        ]

    # -- the interface --------------------------------------------------------------------------

    def check(self) -> CheckResult:
        with self._lock:
            try:
                plex = self._connect()
                sections = self._sections(plex)
            except MediaServerError as exc:
                return CheckResult(ok=False, detail=str(exc), roots=[])
            listed = [s for s in sections if self._listed(s)]
            roots = [loc for s in listed for loc in s.locations]
            detail = f"Plex {plex.friendlyName!r} {plex.version}: {len(sections)} sections" + (
                f", {len(listed)} of them in libraries" if self.settings.libraries else ""
            )
            missing = self.missing_libraries(s.title or "" for s in sections)
            if missing:
                names = ", ".join(repr(t) for t in missing)
                return CheckResult(
                    ok=False, detail=f"{detail}; no section named {names}", roots=roots
                )
            return CheckResult(ok=True, detail=detail, roots=roots)

    def locate(self, folder: str) -> str:
        with self._lock:
            sections = self._sections(self._connect())
            found = self._holders(folder, sections)
            if found:
                return " and ".join(
                    f"section {s.title!r} ({s.type}), location {loc}"
                    + ("" if self._listed(s) else " (not in libraries: never scanned)")
                    for s, loc in found
                )
            inner = self._held(folder, [s for s in sections if self._listed(s)])
            if inner:
                return "above the library roots; a scan covers " + ", ".join(
                    f"section {s.title!r} location {loc}" for s, loc in inner
                )
            return "no Plex section contains it (a scan would update " + (
                "the listed sections in full)" if self.settings.libraries else "the whole library)"
            )

    def scan(self, folders: list[str], *, removed: bool = False) -> ScanResult:
        # A partial scan of the folder also notices files that went (Plex marks them missing,
        # and removes them when its "empty trash automatically" setting is on): `removed` is moot.
        if not folders:
            return ScanResult(ok=True, detail="nothing to scan")
        with self._lock:
            plex = self._connect()
            sections = self._sections(plex)
            listed = [s for s in sections if self._listed(s)]
            plans: dict[int, _Plan] = {}
            notes: list[str] = []
            unmatched: list[str] = []
            held: list[str] = []  # folders a refreshing section holds: the notifier keeps them
            for folder in dict.fromkeys(folders):
                targets = [
                    (s, _server_form(folder, loc)) for s, loc in self._holders(folder, listed)
                ]
                targets = targets or self._held(folder, listed)
                if not targets:
                    if self._holders(folder, sections):
                        notes.append(f"{folder} is only in sections not in libraries: skipped")
                    else:
                        unmatched.append(folder)
                    continue
                if any(section.refreshing for section, _ in targets):
                    held.append(folder)
                for section, path in targets:
                    plan = plans.setdefault(section.key, _Plan(section))
                    if path not in plan.paths:
                        plan.paths.append(path)
            for plan in plans.values():
                notes.append(self._scan_section(plan))
            if unmatched:
                notes.append(self._scan_all(plex, listed, unmatched))
            detail = "; ".join(notes) or "nothing to scan"
            return ScanResult(ok=True, detail=detail, deferred=bool(held), pending=held)

    def _scan_section(self, plan: _Plan) -> str:
        section, paths = plan.section, plan.paths
        what = ", ".join(paths) if len(paths) <= _LISTED else f"{len(paths)} folders"
        if section.refreshing:
            log.info("%s: section %r is refreshing; later: %s", self.name, section.title, what)
            return f"section {section.title!r} is refreshing: {what} deferred"
        for path in paths:
            with self._guard(f"partial scan of section {section.title!r}"):
                section.update(path=path)
        log.info("%s: section %r partial scan of %s", self.name, section.title, what)
        return f"section {section.title!r} partial scan of {what}"

    def _scan_all(
        self, plex: PlexApiServer, listed: list[LibrarySection], folders: list[str]
    ) -> str:
        """Folders in no section: most likely a wrong path_map. Plex would not find files outside
        its locations, but a full update at least picks up anything that did land in one."""
        what = ", ".join(folders) if len(folders) <= _LISTED else f"{len(folders)} folders"
        if self.settings.libraries:
            if not listed:
                return f"{what} in no Plex section and no listed section exists: skipped"
            for section in listed:
                with self._guard(f"full scan of section {section.title!r}"):
                    section.update()
            titles = ", ".join(repr(s.title) for s in listed)
            log.warning("%s: %s in no Plex section: full scan of %s", self.name, what, titles)
            return f"{what} in no Plex section: full scan of {titles}"
        with self._guard("library-wide update"):
            plex.library.update()
        log.warning("%s: %s in no Plex section: library-wide update", self.name, what)
        return f"{what} in no Plex section: library-wide update"

    def close(self) -> None:
        with self._lock:
            self._plex = None
        super().close()
