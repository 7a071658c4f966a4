"""The web API: submit a magnet, URL or .torrent; list and read transfer records.

``POST /api/transfers`` takes one of
  - JSON ``{"url": "magnet:?..." | "https://...", "target": "/TV"}`` (target optional),
  - multipart/form-data with a ``torrent`` (or ``file``) file part holding a .torrent, or a ``url``
    field, plus an optional ``target`` field,
  - form-urlencoded ``url=...&target=...``.
It answers 202 with ``{"transfer": record, "duplicate": false}`` when it queued new work, and 200
with ``{"transfer": existing record, "duplicate": true}`` when the source (same info-hash or
normalized URL) is already known: nothing new was started, and the record says how far the
earlier one got. Submission never waits for put.io (``wait=False``); the record's state follows.

``GET /api/transfers`` (``?state=a,b&state=c&limit=N``, 1..1000, default 100) and
``GET /api/transfers/<id>``. Every route needs the API key (see ``auth``). Errors are JSON
``{"error", "status"}``: 400 bad input, 401 key, 404, 413 too large, 415 content type, 503.
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any, NoReturn

from flask import Blueprint, Response, current_app, request, url_for

from putbridge.errors import IntakeError, PutioError, RateLimited, TransientError
from putbridge.intake.sources import MAX_LINK_CHARS

from .auth import require_api_key
from .replies import json_error, json_reply, printable

if TYPE_CHECKING:
    from putbridge.intake.sources import Source
    from putbridge.intake.submit import TransferService

log = logging.getLogger("putbridge.webhook.api")

bp = Blueprint("api", __name__, url_prefix="/api")
bp.before_request(require_api_key)

# The app's body limit: the largest .torrent (intake's MAX_TORRENT_BYTES, 10 MiB) plus room for
# the multipart framing and a target field. A bigger body is refused before it is parsed.
MAX_BODY_BYTES = 10 * 1024 * 1024 + 256 * 1024
# A JSON or form-urlencoded submission holds one link: no reason to read megabytes of it.
MAX_LINK_BODY_BYTES = 1024 * 1024
MAX_URL_CHARS = MAX_LINK_CHARS  # the same limit as a link dropped in a blackhole
MAX_TARGET_CHARS = 1024
MAX_NAME_CHARS = 255
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_ID = 2**63 - 1  # SQLite's largest integer; a bigger id is simply not there
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LIMIT = re.compile(r"[0-9]{1,4}")
LINK_TYPES = ("application/json", "multipart/form-data", "application/x-www-form-urlencoded")


class Refusal(Exception):
    """A request the API turns down: its status and a sentence for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _refuse(status: int, message: str) -> NoReturn:
    raise Refusal(status, message)


@bp.errorhandler(Refusal)
def _refusal(err: Refusal) -> Response:
    if request.method == "POST":
        log.info("api: refused a submission (%d): %s", err.status, printable(err.message))
    return json_error(err.status, err.message)


@bp.errorhandler(IntakeError)
def _bad_source(err: IntakeError) -> Response:
    log.info("api: refused a submission: %s", printable(err))
    return json_error(400, str(err))


@bp.errorhandler(PutioError)
def _putio_trouble(err: PutioError) -> Response:
    # wait=False should keep put.io out of the request; should it not, say so without detail.
    log.warning("api: put.io error during a submission: %s", printable(err, 300))
    if isinstance(err, TransientError | RateLimited):
        return json_error(503, "put.io cannot be reached now; try again later")
    return json_error(502, "put.io refused the request")


def _service() -> TransferService:
    service = current_app.extensions["putbridge"].get("transfers")
    if service is None:
        _refuse(503, "transfers are not available in this process")
    return service


# ---- POST /api/transfers --------------------------------------------------------------------


@bp.post("/transfers")
def add_transfer() -> Response:
    service = _service()
    mimetype = request.mimetype
    if mimetype == "application/json":
        source, target = _from_json()
    elif mimetype == "multipart/form-data":
        source, target = _from_multipart()
    elif mimetype == "application/x-www-form-urlencoded":
        request.max_content_length = MAX_LINK_BODY_BYTES
        source, target = _link_source(request.form.get("url")), _target(request.form.get("target"))
    else:
        _refuse(415, f"send the transfer as one of: {', '.join(LINK_TYPES)}")
    record, created = service.add(source, target=target, origin="api", wait=False)
    body = {"transfer": record.to_json(), "duplicate": not created}
    name = printable(source.name, 80)
    if not created:
        log.info("api: %s %r is already transfer %d", source.kind, name, record.id)
        return json_reply(body, 200)
    log.info("api: queued %s %r as transfer %d", source.kind, name, record.id)
    location = url_for("api.get_transfer", transfer_id=record.id)
    return json_reply(body, 202, {"Location": location})


def _from_json() -> tuple[Source, str | None]:
    request.max_content_length = MAX_LINK_BODY_BYTES
    raw = request.get_data(cache=False)
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError too
        _refuse(400, "the body is not valid JSON")
    if not isinstance(payload, dict):
        _refuse(400, 'the JSON body must be an object like {"url": "magnet:?xt=..."}')
    return _link_source(payload.get("url")), _target(payload.get("target"))


def _from_multipart() -> tuple[Source, str | None]:
    from putbridge.intake.sources import MAX_TORRENT_BYTES, parse_torrent

    # A FileStorage without a file name is falsy: look parts up by presence, not truth.
    part = request.files.get("torrent")
    if part is None:
        part = request.files.get("file")
    target = _target(request.form.get("target"))
    if part is None:
        if "url" in request.form:
            return _link_source(request.form["url"]), target
        _refuse(
            400,
            'the multipart body needs a "torrent" file part holding a .torrent '
            '(curl -F torrent=@FILE.torrent) or a "url" field',
        )
    data = part.stream.read(MAX_TORRENT_BYTES + 1)
    if len(data) > MAX_TORRENT_BYTES:
        _refuse(413, f"the .torrent is larger than {MAX_TORRENT_BYTES // (1024 * 1024)} MB")
    if not data:
        _refuse(400, "the torrent part is empty")
    return parse_torrent(data, part.filename or "upload.torrent"), target


def _link_source(url: Any) -> Source:
    from putbridge.intake.sources import parse_link

    if url is None or (isinstance(url, str) and not url.strip()):
        _refuse(400, 'a "url" is required: a magnet URI or an http(s) URL')
    if not isinstance(url, str):
        _refuse(400, '"url" must be a string')
    url = url.strip()
    if len(url) > MAX_URL_CHARS:
        _refuse(400, f'"url" is longer than {MAX_URL_CHARS} characters')
    if _CONTROL.search(url):
        _refuse(400, '"url" holds control characters')
    return parse_link(url)


def _target(value: Any) -> str | None:
    """The put.io folder a submission goes to; absent or empty means the default target."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        _refuse(400, '"target" must be a string: a put.io folder path such as "/TV"')
    try:
        return normalize_target(value)
    except ValueError as err:
        _refuse(400, str(err))


def normalize_target(path: str) -> str:
    """``path`` as a canonical absolute put.io folder path ("/" or "/A/B"), or ValueError.

    Repeated and trailing slashes fold away; "." and ".." parts are refused rather than resolved
    (a client that writes them is confused, and resolving them could escape nothing on put.io
    but would hide the mistake).
    """
    if len(path) > MAX_TARGET_CHARS:
        raise ValueError(f'"target" is longer than {MAX_TARGET_CHARS} characters')
    if _CONTROL.search(path):
        raise ValueError('"target" holds control characters')
    if not path.startswith("/"):
        raise ValueError('"target" must be an absolute put.io folder path such as "/TV"')
    parts = [part for part in path.split("/") if part]
    if any(part in (".", "..") for part in parts):
        raise ValueError('"target" must not hold "." or ".." parts')
    if any(len(part) > MAX_NAME_CHARS for part in parts):
        raise ValueError(f'"target" has a folder name longer than {MAX_NAME_CHARS} characters')
    return "/" + "/".join(parts)


# ---- GET /api/transfers ---------------------------------------------------------------------


@bp.get("/transfers")
def list_transfers() -> Response:
    service = _service()
    limit = _limit(request.args.get("limit"))
    states = _states(request.args.getlist("state"))
    records = service.list(limit=limit, states=states)
    return json_reply({"transfers": [record.to_json() for record in records]})


@bp.get("/transfers/<int:transfer_id>")
def get_transfer(transfer_id: int) -> Response:
    service = _service()
    record = service.get(transfer_id) if transfer_id <= MAX_ID else None
    if record is None:
        return json_error(404, "no such transfer")
    return json_reply({"transfer": record.to_json()})


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not _LIMIT.fullmatch(value) or not 1 <= int(value) <= MAX_LIMIT:
        _refuse(400, f'"limit" must be a whole number from 1 to {MAX_LIMIT}')
    return int(value)


def _states(values: list[str]) -> list[str] | None:
    """``?state=a,b&state=c`` as a list, or None for every state."""
    from putbridge.transfers import STATES

    wanted = [state.strip() for value in values for state in value.split(",") if state.strip()]
    unknown = [state for state in wanted if state not in STATES]
    if unknown:
        _refuse(
            400,
            f'unknown state "{printable(unknown[0], 40)}"; states are: {", ".join(STATES)}',
        )
    return wanted or None
