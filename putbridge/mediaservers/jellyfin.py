"""Jellyfin and Emby: tell the server which folders changed (``POST /Library/Media/Updated``), or
refresh every library (``POST /Library/Refresh``) in ``mode = "full"``.

Both speak the API Jellyfin forked from Emby; they differ in how the token travels. Jellyfin gets
``Authorization: MediaBrowser Token="…", Client=…`` because Jellyfin 12 turns the legacy
``X-Emby-Token``/``api_key`` sources off by default (and Sonarr's connector breaks there). Emby gets
``X-Emby-Token``, its documented header.

A reported path is not scanned at once: Jellyfin queues it and looks only after its
``LibraryMonitorDelay`` (60 s by default, Dashboard > General), so an item shows up a minute later.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from putbridge import __version__
from putbridge.config import MediaServerSettings
from putbridge.errors import MediaServerError
from putbridge.logs import redact, register_secret

from .base import (
    CheckResult,
    ListingCache,
    MediaServer,
    ScanResult,
    connection_reason,
    count_folders,
    longest_holder,
    snippet,
    without_userinfo,
)

log = logging.getLogger("putbridge.mediaservers")

# Library roots are fetched for scan's "outside every library" note; libraries change rarely.
ROOTS_TTL = 60.0
_MAX_WARNED = 1000  # folders remembered as already reported outside every library


class _Refused(MediaServerError):
    """The server answered with an HTTP error; ``status`` lets check() tell 403 from the rest."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class VirtualFolder:
    """One library as ``/Library/VirtualFolders`` lists it: a name and its folders."""

    __slots__ = ("name", "locations")

    def __init__(self, name: str, locations: list[str]) -> None:
        self.name = name
        self.locations = locations


class MediaBrowserServer(MediaServer):
    """What Jellyfin and Emby share: endpoints, error mapping, library lookups."""

    product: ClassVar[str]

    def __init__(
        self, settings: MediaServerSettings, *, session: requests.Session | None = None
    ) -> None:
        super().__init__(settings, session=session)
        if settings.token:
            register_secret(settings.token)
        self._base = settings.url.rstrip("/")
        self._shown_url = without_userinfo(self._base)
        self._label = f"{self.product} {settings.name!r}" if settings.name else self.product
        self._libraries = ListingCache(ROOTS_TTL)
        self._warned: set[str] = set()

    # ---- the one road to the server ----------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _fallback_base(self) -> str | None:
        """Another base URL to try once when the configured one answers 404 (Emby: /emby)."""
        return None

    def _request(self, method: str, path: str, json: Any = None) -> Any:
        """Send one call; return the decoded JSON body (None when empty). Every failure becomes a
        one-line MediaServerError that names the server and never the token."""
        resp = self._send(method, self._base + path, json=json)
        fallback = self._fallback_base() if resp.status_code == 404 else None
        if fallback is not None:
            # Nothing happened on a 404, so the same call is safe to repeat under the prefix.
            retry = self._send(method, fallback + path, json=json)
            if retry.status_code != 404:
                log.info("%s answers under %s: using that from now on", self._label, fallback)
                self._base = fallback
                self._shown_url = without_userinfo(fallback)
                resp = retry
        status = resp.status_code
        what = f"{method} {path}"
        if status in (401, 403):
            hint = "the token was refused" if status == 401 else "the token lacks the rights"
            message = f"{what}: HTTP {status}, {hint} (use an API key from the Dashboard)"
            raise self._error(message, status)
        if status == 404:
            raise self._error(f"{what}: HTTP 404 (is the url right, base path included?)", 404)
        if status >= 400:
            raise self._error(f"{what}: HTTP {status} {snippet(resp.text)}", status)
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            if method != "GET":
                return None  # a POST's body is not needed; the status said it was accepted
            raise self._error(f"{what}: the answer is not JSON: {snippet(resp.text)}") from None

    def _send(self, method: str, url: str, *, json: Any) -> requests.Response:
        headers = {"Accept": "application/json", "User-Agent": f"putbridge/{__version__}"}
        headers.update(self._auth_headers())
        try:
            return self.session.request(
                method, url, json=json, headers=headers, timeout=self.settings.timeout
            )
        except requests.Timeout as err:
            seconds = f"{self.settings.timeout:g}"
            raise self._error(f"no answer within {seconds} s to {method} {_path(url)}") from err
        except requests.ConnectionError as err:
            raise self._error(f"unreachable: {connection_reason(err)}") from err
        except requests.RequestException as err:
            raise self._error(f"{method} {_path(url)} failed: {type(err).__name__}") from err

    def _error(self, message: str, status: int | None = None) -> MediaServerError:
        text = redact(" ".join(f"{self._label} at {self._shown_url}: {message}".split()))
        return MediaServerError(text) if status is None else _Refused(text, status)

    # ---- libraries ---------------------------------------------------------------------------

    def virtual_folders(self) -> list[VirtualFolder]:
        """Every library with its folders, as the server sees them (filter not applied)."""
        body = self._request("GET", "/Library/VirtualFolders")
        if not isinstance(body, list):
            raise self._error("GET /Library/VirtualFolders: expected a list of libraries")
        found = []
        for item in body:
            if not isinstance(item, dict):
                continue
            locations = item.get("Locations") or []
            if not isinstance(locations, list):
                locations = []
            found.append(
                VirtualFolder(
                    str(item.get("Name") or ""), [x for x in locations if isinstance(x, str) and x]
                )
            )
        return self._libraries.put(found)

    # ---- the interface -----------------------------------------------------------------------

    def check(self) -> CheckResult:
        try:
            info = self._request("GET", "/System/Info")
            if not isinstance(info, dict):
                raise self._error("GET /System/Info: expected an object")
        except MediaServerError as err:
            return CheckResult(False, str(err), [])
        about = f"{self.product} '{info.get('ServerName') or '?'}' {info.get('Version') or '?'}"
        try:
            libraries = self.virtual_folders()
        except MediaServerError as err:
            if getattr(err, "status", None) == 403:
                # A user's token may report paths but not list libraries: scans still work.
                return CheckResult(True, f"{about}: libraries hidden from this token (403)", [])
            return CheckResult(False, str(err), [])
        chosen = [lib for lib in libraries if self.selected(lib.name)]
        missing = self.missing_libraries(lib.name for lib in libraries)
        roots = [loc for lib in chosen for loc in lib.locations]
        if missing:
            has = ", ".join(lib.name for lib in libraries) or "none"
            detail = f"{about}: no library named {', '.join(map(repr, missing))} (has: {has})"
            return CheckResult(False, detail, roots)
        names = ", ".join(lib.name for lib in chosen)
        return CheckResult(True, f"{about}: {len(chosen)} libraries ({names})", roots)

    def locate(self, folder: str) -> str:
        found = longest_holder(folder, self.virtual_folders(), _locations)
        if found is None:
            return "no library contains it"
        library, location = found
        where = f"library '{library.name}' ({location})"
        if not self.selected(library.name):
            return f"{where}, which is not among the configured libraries"
        return where

    def scan(self, folders: list[str], *, removed: bool = False) -> ScanResult:
        if not folders:
            return ScanResult(True, "nothing to scan")
        if self.settings.mode == "full":
            self._request("POST", "/Library/Refresh")
            return ScanResult(True, f"{self.product} refreshes every library (full mode)")
        skipped: list[str] = []
        if self.settings.libraries:
            folders, skipped = self._drop_unselected(folders)
            if not folders:
                return ScanResult(
                    True, f"nothing to scan: {count_folders(skipped)} in other libraries"
                )
        change = "Deleted" if removed else "Created"
        updates = [{"Path": folder, "UpdateType": change} for folder in folders]
        self._request("POST", "/Library/Media/Updated", json={"Updates": updates})
        detail = f"reported {count_folders(folders)} {change.lower()} to {self.product}"
        outside = self._outside(folders)
        if outside:
            detail += f" ({len(outside)} in no library: the server ignores them)"
        if skipped:
            detail += f"; skipped {count_folders(skipped)} in libraries not configured"
        return ScanResult(True, f"{detail}; {self._delay_note()}")

    def _delay_note(self) -> str:
        return f"{self.product} looks at them in the background"

    def _drop_unselected(self, folders: list[str]) -> tuple[list[str], list[str]]:
        """Folders known to belong to a library outside ``settings.libraries`` are dropped;
        folders in no library, or when libraries cannot be listed, are kept."""
        try:
            libraries = self._libraries.get(self.virtual_folders)
        except MediaServerError as err:
            if getattr(err, "status", None) != 403:
                raise
            return folders, []  # cannot tell: sending all is what an unfiltered server gets
        keep, skip = [], []
        for folder in folders:
            found = longest_holder(folder, libraries, _locations)
            (skip if found is not None and not self.selected(found[0].name) else keep).append(
                folder
            )
        if skip:
            log.info("%s: not scanning %s (libraries not configured)", self._label, skip)
        return keep, skip

    def _outside(self, folders: list[str]) -> list[str]:
        """Folders in no library; logged once each, since the server drops them silently."""
        try:
            libraries = self._libraries.get(self.virtual_folders)
        except MediaServerError:
            return []  # the scan itself went through; the note is a courtesy
        outside = [f for f in folders if longest_holder(f, libraries, _locations) is None]
        new = [f for f in outside if f not in self._warned]
        if new:
            log.warning(
                "%s: %s in no library, so the server will ignore them: %s (check path_map)",
                self._label,
                count_folders(new),
                ", ".join(repr(f) for f in new),
            )
            if len(self._warned) + len(new) > _MAX_WARNED:
                self._warned.clear()
            self._warned.update(new)
        return outside


class JellyfinServer(MediaBrowserServer):
    kind = "jellyfin"
    product = "Jellyfin"

    def __init__(
        self, settings: MediaServerSettings, *, session: requests.Session | None = None
    ) -> None:
        super().__init__(settings, session=session)
        # Jellyfin lists devices by DeviceId: a stable id keeps putbridge one entry, not one a run.
        seed = f"putbridge:{settings.kind}:{settings.name}:{settings.url.rstrip('/')}"
        self.device_id = uuid.uuid5(uuid.NAMESPACE_URL, seed).hex

    def _auth_headers(self) -> dict[str, str]:
        fields = {
            "Token": self.settings.token,
            "Client": "putbridge",
            "Device": "putbridge",
            "DeviceId": self.device_id,
            "Version": __version__,
        }
        value = ", ".join(f'{key}="{val}"' for key, val in fields.items())
        return {"Authorization": f"MediaBrowser {value}"}

    def _delay_note(self) -> str:
        return "Jellyfin waits its LibraryMonitorDelay (60 s by default) before it looks"


class EmbyServer(MediaBrowserServer):
    kind = "emby"
    product = "Emby"

    def _auth_headers(self) -> dict[str, str]:
        return {"X-Emby-Token": self.settings.token}

    def _fallback_base(self) -> str | None:
        # Emby serves its API under /emby; many installs also answer at the root, some (behind a
        # proxy forwarding only /emby) do not. Accept either url: try the prefix once on a 404.
        if self._base.lower().endswith("/emby"):
            return None
        return self._base + "/emby"


def _path(url: str) -> str:
    return urlsplit(url).path or "/"


def _locations(virtualfolder: VirtualFolder) -> list[str]:
    return virtualfolder.locations
