"""The stream links a .strm holds: redirect, HLS playlist, or proxied bytes.

``/stream/<id>/<sig>/<name>`` answers with a 302 to a fresh put.io storage URL (from the URL
cache), or, when the name is ``media.m3u8``, with put.io's HLS playlist fetched server-side.
``/proxy/<id>/<sig>/<name>`` relays the bytes themselves, Range included, for clients that cannot
reach put.io's storage URL (it is valid only from the IP that asked for it). The signature is the
only authentication: a bad one gets a bare 403 that says nothing about what was wrong.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urljoin

import requests
import urllib3
from flask import Blueprint, Response, current_app, request

from putbridge import __version__
from putbridge.errors import AuthError, NotFound, PutioError, RateLimited, TransientError
from putbridge.library.links import HLS_NAME, LinkSigner, StreamUrlCache
from putbridge.logs import redact
from putbridge.putio import PutioClient

log = logging.getLogger("putbridge.webhook.stream")

bp = Blueprint("stream", __name__)

HLS_CONTENT_TYPE = "application/vnd.apple.mpegurl"
CHUNK_SIZE = 64 * 1024
UPSTREAM_TIMEOUT = (10.0, 60.0)  # connect, read (between bytes)
# What a proxied answer keeps from storage's; hop-by-hop and cookie headers stay behind.
RELAYED_HEADERS = (
    "Content-Type",
    "Content-Length",
    "Content-Range",
    "Accept-Ranges",
    "Last-Modified",
    "ETag",
)
RELAYED_STATUSES = frozenset({200, 206, 416})
EXPIRED_STATUSES = frozenset({403, 410})
_URI_ATTRIBUTE = re.compile(r'URI="([^"]*)"')
_STATE_KEY = "putbridge.stream"


# ---- collaborators ------------------------------------------------------------------------


def _collaborator(name: str) -> Any:
    return current_app.extensions["putbridge"][name]


class _FailureLog:
    """Logs put.io trouble once per episode: a media server retrying a dead link every second
    must not write a line each time. A success ends the episode."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: str | None = None

    def failed(self, kind: str, err: Exception) -> None:
        with self._lock:
            first, self._current = self._current != kind, kind
        if first:
            log.warning("stream links: %s", redact(str(err)))
        else:
            log.debug("stream links: %s", redact(str(err)))

    def succeeded(self) -> None:
        if self._current is not None:
            with self._lock:
                was, self._current = self._current, None
            if was is not None:
                log.info("stream links: put.io answers again")


@bp.record_once
def _setup(state: Any) -> None:
    state.app.extensions[_STATE_KEY] = _FailureLog()


def _failures() -> _FailureLog:
    return current_app.extensions[_STATE_KEY]


# ---- plain answers ------------------------------------------------------------------------


def _text(status: int, text: str = "", headers: dict[str, str] | None = None) -> Response:
    resp = Response(text + "\n" if text else b"", status=status, mimetype="text/plain")
    resp.headers["Cache-Control"] = "no-store"
    if headers:
        resp.headers.update(headers)
    return resp


def _forbidden() -> Response:
    return _text(403)


def _putio_failure(err: PutioError) -> Response:
    """The answer for a put.io error, logged once per episode (messages are token-free)."""
    if isinstance(err, NotFound):
        return _text(404, "put.io has no such file")
    if isinstance(err, AuthError):
        _failures().failed("auth", err)
        return _text(502, "put.io refused the bridge's token")
    if isinstance(err, RateLimited):
        _failures().failed("rate", err)
        headers = {}
        if err.retry_after is not None and math.isfinite(err.retry_after):
            headers["Retry-After"] = str(max(1, math.ceil(err.retry_after)))
        return _text(503, "put.io is rate limiting the bridge; try again later", headers)
    if isinstance(err, TransientError):
        _failures().failed("down", err)
        return _text(503, "put.io cannot be reached; try again later")
    _failures().failed("bad", err)
    return _text(502, "put.io gave an unusable answer")


# ---- /stream ------------------------------------------------------------------------------


@bp.route("/stream/<int:file_id>/<sig>/<path:name>", methods=["GET", "HEAD"])
def stream(file_id: int, sig: str, name: str) -> Response:
    """302 to a fresh put.io URL; for ``media.m3u8``, put.io's HLS playlist."""
    signer: LinkSigner = _collaborator("signer")
    if not signer.verify(file_id, sig):
        return _forbidden()
    try:
        if name == HLS_NAME:
            return _hls_playlist(file_id)
        url = _collaborator("url_cache").get(file_id)
    except PutioError as err:
        return _putio_failure(err)
    _failures().succeeded()
    resp = _text(302)
    resp.headers["Location"] = url
    return resp


def _hls_playlist(file_id: int) -> Response:
    client: PutioClient = _collaborator("client")
    # The token travels in the Authorization header the client adds, never in a URL.
    upstream = client._request("GET", client.hls_url(file_id), raw=True, idempotent=True)
    try:
        upstream.encoding = "utf-8"  # RFC 8216: playlists are UTF-8
        text, base = upstream.text, upstream.url
    finally:
        upstream.close()
    playlist = absolutize_playlist(text, base)
    if redact(playlist) != playlist:
        # put.io echoed a secret into a URL: clients must never see it.
        raise PutioError("put.io's HLS playlist holds a secret; refusing to pass it on")
    if not playlist.lstrip("\ufeff").startswith("#EXTM3U"):
        raise PutioError("put.io's HLS answer is not an M3U playlist")
    _failures().succeeded()
    resp = Response(playlist, status=200, content_type=HLS_CONTENT_TYPE)
    # Segment URLs are signed and expire: a player must come back here, not reuse a copy.
    resp.headers["Cache-Control"] = "no-store"
    return resp


def absolutize_playlist(text: str, base_url: str) -> str:
    """``text`` (an M3U8 playlist fetched from ``base_url``) with every relative URI made
    absolute: segment and variant lines, and ``URI="..."`` attributes of tags (keys, maps,
    media renditions). Players then fetch segments from put.io, not from the bridge."""
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            lines.append(line)
        elif stripped.startswith("#"):
            lines.append(
                _URI_ATTRIBUTE.sub(lambda m: f'URI="{urljoin(base_url, m.group(1))}"', line)
            )
        else:
            lines.append(urljoin(base_url, stripped))
    return "\n".join(lines) + "\n"


# ---- /proxy -------------------------------------------------------------------------------


@bp.route("/proxy/<int:file_id>/<sig>/<path:name>", methods=["GET", "HEAD"])
def proxy(file_id: int, sig: str, name: str) -> Response:
    """The file's bytes relayed from put.io's storage, honouring the client's Range."""
    signer: LinkSigner = _collaborator("signer")
    if not signer.verify(file_id, sig):
        return _forbidden()
    cache: StreamUrlCache = _collaborator("url_cache")
    headers = {
        "User-Agent": f"putbridge/{__version__}",
        # Bytes as stored: a compressed answer would break Range offsets.
        "Accept-Encoding": "identity",
    }
    for header in ("Range", "If-Range"):
        if header in request.headers:
            headers[header] = request.headers[header]
    for attempt in (1, 2):
        try:
            url = cache.get(file_id)
        except PutioError as err:
            return _putio_failure(err)
        session = requests.Session()
        try:
            # GET for HEAD too: storage may not know HEAD; the body is never read.
            upstream = session.get(
                url,
                headers=headers,
                stream=True,
                timeout=UPSTREAM_TIMEOUT,
                allow_redirects=True,
            )
        except requests.RequestException as err:
            session.close()
            # Never log the URL: it is a signed link to the account's bytes.
            _failures().failed("storage", Exception(f"put.io storage: {type(err).__name__}"))
            return _text(503, "put.io storage cannot be reached; try again later")
        if upstream.status_code in EXPIRED_STATUSES and attempt == 1:
            # The cached URL expired (or was minted for another IP): fetch a fresh one once.
            upstream.close()
            session.close()
            cache.invalidate(file_id, url)
            continue
        break
    return _relay(upstream, session)


def _relay(upstream: requests.Response, session: requests.Session) -> Response:
    status = upstream.status_code

    def close() -> None:
        upstream.close()
        session.close()

    if status not in RELAYED_STATUSES:
        close()
        if status == 404:
            return _text(404, "put.io has no such file")
        log.warning("put.io storage answered HTTP %d to a proxied request", status)
        return _text(502, f"put.io storage answered HTTP {status}")
    _failures().succeeded()
    headers = {key: upstream.headers[key] for key in RELAYED_HEADERS if key in upstream.headers}
    headers.setdefault("Content-Type", "application/octet-stream")
    headers["Cache-Control"] = "no-store"
    if status == 416:
        close()
        headers.pop("Content-Length", None)  # storage's explanation stays behind
        return Response(b"", status=status, headers=headers)
    if request.method == "HEAD":
        close()
        resp = Response(b"", status=status, headers=headers)
        if "Content-Length" in upstream.headers:  # the length a GET would send
            resp.headers["Content-Length"] = upstream.headers["Content-Length"]
        return resp
    resp = Response(_chunks(upstream, close), status=status, headers=headers)
    resp.direct_passthrough = True
    # Runs when the server is done with the answer, also when the client went away early.
    resp.call_on_close(close)
    return resp


def _chunks(upstream: requests.Response, close: Callable[[], None]) -> Iterator[bytes]:
    try:
        yield from upstream.raw.stream(CHUNK_SIZE, decode_content=False)
    except (urllib3.exceptions.HTTPError, OSError) as err:
        # Headers are sent: all that is left is to stop short, which ends the connection.
        # Only the type is logged; the message could name the signed storage URL.
        log.warning("put.io storage broke off a proxied answer: %s", type(err).__name__)
    finally:
        close()
