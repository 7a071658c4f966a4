"""``POST /putio/callback/<secret>``: put.io says a transfer finished; check put.io now.

The secret in the path is the only authentication (put.io cannot send headers we choose). A wrong
one gets the same JSON 404 as any unknown path, so the route gives nothing away. The body is not
trusted and barely read: put.io does not document it (form-encoded transfer fields, as far as
anyone has seen), so it is parsed leniently for a log line only, and whatever it says, all that
happens is ``transfers.poke()``: the monitor then asks put.io itself what changed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from flask import Blueprint, Response, current_app, request
from werkzeug.wsgi import get_input_stream

from .replies import json_error, json_reply, printable

log = logging.getLogger("putbridge.webhook.callback")

bp = Blueprint("callback", __name__)

# Enough for any transfer's fields; the rest of a bigger body is left unread.
MAX_READ_BYTES = 64 * 1024
MAX_FIELDS = 200


def secret_matches(given: str, expected: str) -> bool:
    """Constant time, and the digests hide the secret's length too."""
    return hmac.compare_digest(
        hashlib.sha256(given.encode("utf-8", "surrogatepass")).digest(),
        hashlib.sha256(expected.encode("utf-8")).digest(),
    )


@bp.post("/putio/callback/<secret>")
def putio_callback(secret: str) -> Response:
    extension = current_app.extensions["putbridge"]
    expected: str | None = extension.get("callback_secret")
    transfers = extension.get("transfers")
    if not expected or transfers is None or not secret_matches(secret, expected):
        return json_error(404, "not found")
    transfers.poke()
    fields = _fields(_head_of_body())
    transfer_id = fields.get("id") or fields.get("transfer_id")
    name = fields.get("name") or fields.get("transfer_name")
    status = fields.get("status")
    log.info(
        "put.io callback: transfer %s %r%s; checking put.io now",
        printable(transfer_id, 24) if transfer_id else "?",
        printable(name, 100) if name else "",
        f" ({printable(status, 24)})" if status else "",
    )
    return json_reply({"ok": True})


def _head_of_body() -> bytes:
    # Past the app's body limit (request.stream would raise 413): a callback must not fail on a
    # body it does not need. Bounded by Content-Length, or by the server's end of a chunked one.
    stream = get_input_stream(request.environ, max_content_length=None)
    try:
        return stream.read(MAX_READ_BYTES)
    except Exception:  # a client that went away mid-body, a broken chunked encoding
        log.debug("put.io callback: the body could not be read", exc_info=True)
        return b""


def _fields(raw: bytes) -> dict[str, Any]:
    """The body's top-level fields, as JSON or as a form; {} when it is neither."""
    text = raw.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            payload = json.loads(text)
        except (ValueError, RecursionError):
            payload = None
        if isinstance(payload, dict):
            # A JSON body may nest the transfer: {"transfer": {...}}.
            inner = payload.get("transfer")
            return inner if isinstance(inner, dict) else payload
    try:
        form = parse_qs(text, max_num_fields=MAX_FIELDS)
    except ValueError:  # more fields than that: garbage
        return {}
    return {key: values[0] for key, values in form.items() if values}
