"""Kodi: JSON-RPC over HTTP (``POST {url}/jsonrpc``), HTTP Basic with the web server's login.

``VideoLibrary.Scan`` with ``directory`` scans one folder, which must lie inside a video source
whose content is set (Kodi 20 answers "OK" for any folder and quietly scans nothing outside its
sources, so ``scan`` notes such folders). Kodi reads ``.strm`` files as videos; with the
``metadata.local`` scraper a ``.strm`` needs an ``.nfo`` named after it.

Kodi does not queue scans: ``Scan`` runs the ``updatelibrary(video)`` built-in, which STOPS a
scan in progress instead of starting another (seen on Kodi 20.1: a second Scan sent during a
400-movie scan cut it short at 36 movies and was itself dropped; xbmc's LibraryBuiltins.cpp
toggles on ``IsScanningLibrary``). ``VideoLibrary.Clean`` is likewise dropped while a scan runs.
So every request waits until ``Library.IsScanningVideo`` reads false, bounded by the settings'
timeout; a Kodi still busy after that gets ``deferred`` (the notifier asks again later).
"""

from __future__ import annotations

import itertools
import logging
import time
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

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

# Sources are listed for scan's "outside every source" note; they change rarely.
SOURCES_TTL = 60.0
# Kodi answers GetInfoBooleans from a cache it refreshes each frame, so a "not scanning" read
# right after a Scan may predate it: idle means two "not scanning" reads this far apart.
IDLE_GAP = 0.1
POLL_INTERVAL = 0.1
_MAX_WARNED = 1000
_SCANNING = "Library.IsScanningVideo"


class Source:
    """A Kodi video source: its label and the folders it stands for (a multi-path source has
    several)."""

    __slots__ = ("label", "paths")

    def __init__(self, label: str, paths: list[str]) -> None:
        self.label = label
        self.paths = paths


class KodiServer(MediaServer):
    kind: ClassVar[str] = "kodi"

    def __init__(
        self, settings: MediaServerSettings, *, session: requests.Session | None = None
    ) -> None:
        super().__init__(settings, session=session)
        for secret in (settings.password, urlsplit(settings.url.strip()).password):
            if secret:
                register_secret(secret)
        self._endpoint = jsonrpc_endpoint(settings.url)
        self._shown_url = without_userinfo(self._endpoint)
        self._label = f"Kodi {settings.name!r}" if settings.name else "Kodi"
        # Kodi's web server (libmicrohttpd) compares the raw bytes of the login with the UTF-8
        # it stored; requests would send a str password as Latin-1, so any non-ASCII password
        # would be refused. Bytes go through as they are.
        self._auth = (
            (settings.username.encode("utf-8"), settings.password.encode("utf-8"))
            if settings.username
            else None
        )
        self._ids = itertools.count(1)
        self._sources = ListingCache(SOURCES_TTL)
        self._warned: set[str] = set()

    # ---- the one road to Kodi ----------------------------------------------------------------

    def _call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """One JSON-RPC call; its ``result``. Every failure is a one-line MediaServerError that
        names Kodi and never the password."""
        body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": next(self._ids)}
        if params is not None:
            body["params"] = params
        headers = {"Accept": "application/json", "User-Agent": f"putbridge/{__version__}"}
        try:
            resp = self.session.post(
                self._endpoint,
                json=body,
                headers=headers,
                auth=self._auth,
                timeout=self.settings.timeout,
            )
        except requests.Timeout as err:
            seconds = f"{self.settings.timeout:g}"
            raise self._error(f"no answer within {seconds} s to {method}") from err
        except requests.ConnectionError as err:
            raise self._error(f"unreachable: {connection_reason(err)}") from err
        except requests.RequestException as err:
            raise self._error(f"{method} failed: {type(err).__name__}") from err
        status = resp.status_code
        if status == 401:
            hint = "username or password refused" if self._auth else "Kodi wants a username"
            raise self._error(f"{method}: HTTP 401, {hint} (Kodi: Settings > Services > Control)")
        if status == 404:
            raise self._error(f"{method}: HTTP 404 (is the url Kodi's web server?)")
        if status >= 400:
            raise self._error(f"{method}: HTTP {status} {snippet(resp.text)}")
        try:
            answer = resp.json()
        except ValueError:
            raise self._error(f"{method}: the answer is not JSON: {snippet(resp.text)}") from None
        if not isinstance(answer, dict):
            raise self._error(f"{method}: the answer is not a JSON-RPC object")
        if "error" in answer:
            raise self._error(f"{method}: {_rpc_error(answer['error'])}")
        if "result" not in answer:
            raise self._error(f"{method}: the answer has no result: {snippet(resp.text)}")
        return answer["result"]

    def _error(self, message: str) -> MediaServerError:
        return MediaServerError(
            redact(" ".join(f"{self._label} at {self._shown_url}: {message}".split()))
        )

    # ---- sources -----------------------------------------------------------------------------

    def sources(self) -> list[Source]:
        """Every video source (filter not applied), as Kodi sees its folders."""
        result = self._call("Files.GetSources", {"media": "video"})
        if not isinstance(result, dict):
            raise self._error("Files.GetSources: expected an object")
        listed = result.get("sources") or []  # tolerate "sources" left out when there are none
        if not isinstance(listed, list):
            raise self._error("Files.GetSources: expected a list of sources")
        found = []
        for item in listed:
            if isinstance(item, dict) and isinstance(item.get("file"), str) and item["file"]:
                found.append(Source(str(item.get("label") or ""), _source_paths(item["file"])))
        return self._sources.put(found)

    # ---- the interface -----------------------------------------------------------------------

    def check(self) -> CheckResult:
        try:
            about = self._about()
            sources = self.sources()
        except MediaServerError as err:
            return CheckResult(False, str(err), [])
        chosen = [s for s in sources if self.selected(s.label)]
        roots = [path for source in chosen for path in source.paths]
        missing = self.missing_libraries(s.label for s in sources)
        if missing:
            has = ", ".join(s.label for s in sources) or "none"
            detail = f"{about}: no video source named {', '.join(map(repr, missing))} (has: {has})"
            return CheckResult(False, detail, roots)
        if not chosen:
            return CheckResult(True, f"{about}: no video sources (add the library folder)", [])
        labels = ", ".join(s.label for s in chosen)
        plural = "" if len(chosen) == 1 else "s"
        return CheckResult(True, f"{about}: {len(chosen)} video source{plural} ({labels})", roots)

    def _about(self) -> str:
        info = self._call("Application.GetProperties", {"properties": ["name", "version"]})
        if not isinstance(info, dict):
            raise self._error("Application.GetProperties: expected an object")
        version = info.get("version")
        number = "?"
        if isinstance(version, dict):
            number = f"{version.get('major', '?')}.{version.get('minor', '?')}"
        return f"{info.get('name') or 'Kodi'} {number}"

    def locate(self, folder: str) -> str:
        found = longest_holder(folder, self.sources(), _paths)
        if found is None:
            return "no Kodi video source contains it"
        source, path = found
        where = f"video source '{source.label}' ({path})"
        if not self.selected(source.label):
            return f"{where}, which is not among the configured libraries"
        return where

    def scan(self, folders: list[str], *, removed: bool = False) -> ScanResult:
        if not folders:
            return ScanResult(True, "nothing to scan")
        skipped: list[str] = []
        if self.settings.libraries:
            folders, skipped = self._drop_unselected(folders)
            if not folders:
                return ScanResult(
                    True, f"nothing to scan: {count_folders(skipped)} in other sources"
                )
        deadline = self._deadline()
        cleaned = False
        if removed and self.settings.clean:
            # First, while nothing of ours runs (Kodi drops a Clean during a scan): if Kodi is
            # busy, nothing was sent and the whole batch waits, the clean included.
            if not self._wait_idle(deadline):
                return self._busy(folders, 0)
            result = self._call("VideoLibrary.Clean", {"showdialogs": False})
            if result != "OK":
                raise self._error(f"VideoLibrary.Clean answered {snippet(repr(result))}")
            cleaned = True
        for done, folder in enumerate(folders):
            if not self._wait_idle(deadline):
                return self._busy(folders, done)
            result = self._call(
                "VideoLibrary.Scan", {"directory": _as_directory(folder), "showdialogs": False}
            )
            if result != "OK":
                raise self._error(f"VideoLibrary.Scan answered {snippet(repr(result))}")
        detail = f"Kodi scans {count_folders(folders)}"
        if cleaned:
            detail = f"Kodi cleans its video library and scans {count_folders(folders)}"
        elif removed:
            detail += " (removed files stay listed until a library clean: set clean = true)"
        outside = self._outside(folders)
        if outside:
            detail += f" ({len(outside)} in no video source: Kodi ignores them)"
        if skipped:
            detail += f"; skipped {count_folders(skipped)} in sources not configured"
        return ScanResult(True, detail)

    def _deadline(self) -> float:
        # Never shorter than a few idle reads, whatever the request timeout.
        return time.monotonic() + max(self.settings.timeout, 1.0)

    def _busy(self, folders: list[str], done: int) -> ScanResult:
        sent = f"; {done} of {len(folders)} sent" if done else ""
        seconds = f"{max(self.settings.timeout, 1.0):g}"
        # Not a failure: Kodi is busy (a second Scan would stop its running one). The folders
        # not sent yet wait for the next batch.
        return ScanResult(
            True,
            f"Kodi has been scanning its video library for over {seconds} s{sent}",
            deferred=True,
            pending=folders[done:],
        )

    def scanning(self) -> bool:
        """Whether Kodi is scanning or cleaning its video library now."""
        result = self._call("XBMC.GetInfoBooleans", {"booleans": [_SCANNING]})
        return isinstance(result, dict) and result.get(_SCANNING) is True

    def _wait_idle(self, deadline: float) -> bool:
        """Wait until Kodi is not scanning (two reads IDLE_GAP apart); False at the deadline."""
        idle_since: float | None = None
        while True:
            now = time.monotonic()
            if self.scanning():
                idle_since = None
            elif idle_since is None:
                idle_since = now
            elif now - idle_since >= IDLE_GAP:
                return True
            if now >= deadline:
                return False
            time.sleep(min(POLL_INTERVAL, max(0.0, deadline - now)))

    def _drop_unselected(self, folders: list[str]) -> tuple[list[str], list[str]]:
        """Folders in a source outside ``settings.libraries`` are dropped; others are kept."""
        sources = self._sources.get(self.sources)
        keep, skip = [], []
        for folder in folders:
            found = longest_holder(folder, sources, _paths)
            unselected = found is not None and not self.selected(found[0].label)
            (skip if unselected else keep).append(folder)
        if skip:
            log.info("%s: not scanning %s (sources not configured)", self._label, skip)
        return keep, skip

    def _outside(self, folders: list[str]) -> list[str]:
        """Folders in no video source; logged once each, since Kodi answers OK and ignores them."""
        try:
            sources = self._sources.get(self.sources)
        except MediaServerError:
            return []  # the scan went through; the note is a courtesy
        outside = [f for f in folders if longest_holder(f, sources, _paths) is None]
        new = [f for f in outside if f not in self._warned]
        if new:
            log.warning(
                "%s: %s in no video source, so Kodi ignores them: %s (check path_map)",
                self._label,
                count_folders(new),
                ", ".join(repr(f) for f in new),
            )
            if len(self._warned) + len(new) > _MAX_WARNED:
                self._warned.clear()
            self._warned.update(new)
        return outside


def jsonrpc_endpoint(url: str) -> str:
    """``url`` with ``/jsonrpc`` added unless it is there already."""
    base = url.strip().rstrip("/")
    return base if base.lower().endswith("/jsonrpc") else f"{base}/jsonrpc"


def _as_directory(folder: str) -> str:
    """Kodi stores folders with a trailing separator and matches them as strings."""
    if folder.endswith(("/", "\\")):
        return folder
    return folder + ("\\" if "\\" in folder and "/" not in folder else "/")


def _source_paths(file: str) -> list[str]:
    """A source's folders: a multi-path source is ``multipath://<quoted>/<quoted>/``."""
    if not file.lower().startswith("multipath://"):
        return [file]
    parts = file[len("multipath://") :].split("/")
    return [unquote(part) for part in parts if part]


def _rpc_error(error: Any) -> str:
    """A JSON-RPC error object in one line: message, code, and the parameter at fault."""
    if not isinstance(error, dict):
        return f"error {snippet(repr(error))}"
    text = f"{error.get('message') or 'error'} (code {error.get('code', '?')})"
    data = error.get("data")
    stack = data.get("stack") if isinstance(data, dict) else None
    if isinstance(stack, dict) and stack.get("message"):
        text += f": {stack.get('name') or 'parameter'}: {stack['message']}"
    return snippet(text)


def _paths(source: Source) -> list[str]:
    return source.paths
