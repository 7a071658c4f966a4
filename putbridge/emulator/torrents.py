"""What a transfer is made of: .torrent metainfo (via torf), magnet URIs and plain URLs."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, unquote, urlsplit

import torf

from .errors import ApiError

_HEX40 = re.compile(r"^[0-9a-fA-F]{40}$")
_BASE32 = re.compile(r"^[A-Za-z2-7]{32}$")
MAX_COMPONENT_LENGTH = 255  # the file tree's MAX_NAME_LENGTH


@dataclass(frozen=True)
class TorrentMeta:
    """What the emulator keeps of a torrent: enough to create its files on completion."""

    name: str
    info_hash: str  # lowercase 40 hex
    size: int
    # (path inside the torrent, size); for a multi-file torrent the paths exclude the top folder
    files: tuple[tuple[tuple[str, ...], int], ...]
    multi_file: bool
    trackers: tuple[str, ...] = ()
    private: bool = False
    raw: bytes = field(default=b"", repr=False)

    @property
    def magnet(self) -> str:
        return make_magnet(self.info_hash, self.name, self.size)


@dataclass(frozen=True)
class MagnetMeta:
    info_hash: str
    name: str | None
    size: int | None
    trackers: tuple[str, ...] = ()


def make_magnet(info_hash: str, name: str | None = None, size: int | None = None) -> str:
    uri = f"magnet:?xt=urn:btih:{info_hash}"
    if name:
        uri += "&dn=" + quote(name, safe="")
    if size:
        uri += f"&xl={size}"
    return uri


def looks_like_torrent(data: bytes) -> bool:
    """A bencoded dictionary that mentions an info dictionary."""
    return data[:1] == b"d" and b"4:info" in data[: 1 << 20]


def _show(part: object) -> str:
    text = repr(part)
    return text if len(text) <= 60 else text[:57] + "..."


def name_problem(part: object) -> str | None:
    """Why `part` cannot be one file or folder name in the tree (None when it can)."""
    if not isinstance(part, str):
        return f"the name {_show(part)} is not text"
    if not part.strip():
        return "a name is empty"
    if part in (".", ".."):
        return f"the name {part!r} is not allowed"
    if "/" in part or "\x00" in part:
        return f"the name {_show(part)} contains '/' or a NUL character"
    if len(part) > MAX_COMPONENT_LENGTH:
        return f"the name {_show(part)} is longer than {MAX_COMPONENT_LENGTH} characters"
    return None


def layout_problem(name: object, paths: Iterable[Sequence[object]]) -> str | None:
    """Why a torrent named `name` with these file paths (relative to its folder) cannot be
    created as a folder tree: a bad name, an empty path, a path twice, or a path that is both
    a file and a folder ("a" and "a/b"). None when it can."""
    problem = name_problem(name)
    if problem:
        return problem
    files: set[tuple] = set()
    folders: set[tuple] = set()
    for raw in paths:
        path = tuple(raw)
        if not path:
            return "a file has an empty path"
        for part in path:
            problem = name_problem(part)
            if problem:
                return problem
        shown = _show("/".join(str(part) for part in path))
        if path in files:
            return f"the path {shown} appears twice"
        if path in folders:
            return f"{shown} is both a file and a folder"
        for end in range(1, len(path)):
            if path[:end] in files:
                prefix = _show("/".join(str(part) for part in path[:end]))
                return f"{prefix} is both a file and a folder"
            folders.add(path[:end])
        files.add(path)
    return None


def parse_torrent(data: bytes) -> TorrentMeta:
    """Parse .torrent bytes; raises ApiError(400, "INVALID_TORRENT") on anything malformed,
    including a file layout that cannot be created as a folder tree (see `layout_problem`)."""
    try:
        torrent = torf.Torrent.read_stream(io.BytesIO(data), validate=True)
        info_hash = torrent.infohash.lower()
        info = torrent.metainfo["info"]
        name = info["name"]
        multi = torrent.mode == "multifile"
        files: list[tuple[tuple[str, ...], int]] = []
        if multi:
            # the raw paths: torf's normalised ones hide "", "." and "a/b" components
            for entry in info["files"]:
                files.append((tuple(entry["path"]), int(entry["length"])))
        else:
            files.append(((name,), int(info["length"])))
        trackers = tuple(url for tier in (torrent.trackers or []) for url in tier)
        private = bool(torrent.private)
    except torf.TorfError as err:
        raise ApiError(400, "INVALID_TORRENT", f"Invalid .torrent file: {err}") from err
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        raise ApiError(400, "INVALID_TORRENT", f"Invalid .torrent file: {err!r}") from err
    if not name or not files:
        raise ApiError(400, "INVALID_TORRENT", "Invalid .torrent file: it names no files")
    problem = layout_problem(name, (path for path, _ in files))
    if problem:
        raise ApiError(400, "INVALID_TORRENT", f"Invalid .torrent file: {problem}")
    return TorrentMeta(
        name=str(name),
        info_hash=info_hash,
        size=sum(size for _, size in files),
        files=tuple(files),
        multi_file=multi,
        trackers=trackers,
        private=private,
        raw=bytes(data),
    )


def parse_magnet(uri: str) -> MagnetMeta:
    """Parse a magnet URI; raises ApiError(400, "TRANSFER_INVALID") when it has no usable
    btih info-hash (40 hex digits or 32 base32 characters)."""
    if not uri.lower().startswith("magnet:?"):
        raise ApiError(
            400, "TRANSFER_INVALID", "Invalid magnet link: it must start with 'magnet:?'"
        )
    query = parse_qs(uri[len("magnet:?") :], keep_blank_values=True)
    info_hash = None
    for xt in query.get("xt", []):
        if xt.lower().startswith("urn:btih:"):
            value = xt[len("urn:btih:") :]
            if _HEX40.match(value):
                info_hash = value.lower()
            elif _BASE32.match(value):
                info_hash = base64.b32decode(value.upper()).hex()
            break
    if info_hash is None:
        raise ApiError(
            400,
            "TRANSFER_INVALID",
            "Invalid magnet link: it needs xt=urn:btih: with a 40-hex or 32-base32 info-hash",
        )
    name = (query.get("dn") or [None])[0] or None
    size = None
    xl = (query.get("xl") or [""])[0]
    if xl.isdigit() and int(xl) > 0:
        size = int(xl)
    return MagnetMeta(info_hash, name, size, tuple(query.get("tr", [])))


def url_name(url: str) -> str:
    """The last path segment of a URL, URL-decoded (or the host when the path is empty)."""
    parts = urlsplit(url)
    segment = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1]) if parts.path else ""
    return segment or parts.hostname or "download"


def is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:  # e.g. "http://[::1" (an unclosed IPv6 host)
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def is_loopback_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


# ---- fetching URLs ---------------------------------------------------------------------------

FETCH_TIMEOUT = 5.0
MAX_TORRENT_BYTES = 10 * 1024 * 1024
MAX_KEPT_URL_BYTES = 16 * 1024 * 1024


@dataclass
class UrlProbe:
    """What fetching a transfer URL found: a torrent, the bytes, a size, or why it failed."""

    torrent: TorrentMeta | None = None
    content: bytes | None = None
    size: int | None = None
    failure: str | None = None


def _read_limited(response, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_content(64 * 1024):
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def probe_url(url: str) -> UrlProbe:
    """Fetch a .torrent URL (any host) or a loopback URL (tests and demos serve those).

    Other hosts are not contacted: their transfer is simulated from the URL alone."""
    import requests  # local: only transfers/add of a fetchable URL needs it

    is_torrent_path = urlsplit(url).path.lower().endswith(".torrent")
    if not (is_torrent_path or is_loopback_url(url)):
        return UrlProbe()
    try:
        with requests.get(url, timeout=FETCH_TIMEOUT, stream=True) as response:
            if response.status_code >= 400:
                return UrlProbe(
                    failure=f"Download failed: {url} answered HTTP {response.status_code}"
                )
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            length = response.headers.get("Content-Length", "")
            declared = int(length) if length.isdigit() else None
            if is_torrent_path or content_type == "application/x-bittorrent":
                data = _read_limited(response, MAX_TORRENT_BYTES)
                if data is None:
                    return UrlProbe(failure="The .torrent file is too large")
                try:
                    return UrlProbe(torrent=parse_torrent(data))
                except ApiError as err:
                    return UrlProbe(failure=err.message)
            if declared is not None and declared > MAX_KEPT_URL_BYTES:
                return UrlProbe(size=declared)
            data = _read_limited(response, MAX_KEPT_URL_BYTES)
            if data is None:
                return UrlProbe(size=declared)
            return UrlProbe(content=data, size=len(data))
    except requests.RequestException as err:
        return UrlProbe(failure=f"Download failed: could not fetch {url}: {type(err).__name__}")
