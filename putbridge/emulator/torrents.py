"""What a transfer is made of: .torrent metainfo (via torf), magnet URIs and plain URLs."""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, unquote, urlsplit

import torf

from .errors import ApiError

_HEX40 = re.compile(r"^[0-9a-fA-F]{40}$")
_BASE32 = re.compile(r"^[A-Za-z2-7]{32}$")


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


def parse_torrent(data: bytes) -> TorrentMeta:
    """Parse .torrent bytes; raises ApiError(400, "INVALID_TORRENT") on anything malformed."""
    try:
        torrent = torf.Torrent.read_stream(io.BytesIO(data), validate=True)
        info_hash = torrent.infohash.lower()
        name = torrent.name
        multi = torrent.mode == "multifile"
        files: list[tuple[tuple[str, ...], int]] = []
        for entry in torrent.files:
            parts = tuple(entry.parts[1:] if multi else entry.parts[-1:])
            files.append((parts, int(entry.size)))
        trackers = tuple(url for tier in (torrent.trackers or []) for url in tier)
        private = bool(torrent.private)
    except torf.TorfError as err:
        raise ApiError(400, "INVALID_TORRENT", f"Invalid .torrent file: {err}") from err
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        raise ApiError(400, "INVALID_TORRENT", f"Invalid .torrent file: {err!r}") from err
    if not name or not files:
        raise ApiError(400, "INVALID_TORRENT", "Invalid .torrent file: it names no files")
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
    parts = urlsplit(url)
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


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
