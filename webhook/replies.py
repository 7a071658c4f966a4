"""JSON answers shared by the API, the callback and the health check.

Every error the app gives is ``{"error": message, "status": code}``: routing errors (404, 405),
Flask's own (413 from the body limit) and unhandled exceptions, which become a 500 that says
nothing about the cause (the traceback goes to the log, redacted like every record). Messages pass
through ``redact`` so that no registered secret (the put.io token, the API key) can be echoed.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException

from putbridge.logs import redact

log = logging.getLogger("putbridge.webhook")

# What the app's answers show for a status Flask raises itself (its own texts are HTML prose).
_MESSAGES = {
    400: "bad request",
    404: "not found",
    405: "method not allowed",
    413: "the request body is too large",
    415: "unsupported content type",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def json_reply(
    payload: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """``payload`` as JSON; never cached (it describes the account's downloads)."""
    resp = current_app.response_class(
        redact(current_app.json.dumps(payload)) + "\n",
        status=status,
        mimetype="application/json",
    )
    resp.headers["Cache-Control"] = "no-store"
    if headers:
        resp.headers.update(headers)
    return resp


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_reply({"error": message, "status": status}, status, headers)


def printable(value: object, limit: int = 120) -> str:
    """``value`` fit for one log line: control characters (newlines included) removed, cut to
    ``limit`` characters. Callback bodies and submitted names come from strangers."""
    text = _CONTROL.sub(" ", str(value)).strip()
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def install_json_errors(app: Flask) -> None:
    """Make every error the app gives a JSON one (stream links keep their own plain answers)."""

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException) -> Response:
        status = err.code or 500
        headers = {}
        # 405 must still say what is allowed; the other headers are about Flask's HTML body.
        for name, value in err.get_headers():
            if name.lower() in ("allow", "retry-after"):
                headers[name] = value
        return json_error(status, _MESSAGES.get(status, err.name.lower()), headers)

    @app.errorhandler(Exception)
    def _unhandled(err: Exception) -> Response:
        # The client learns nothing of the cause; the log gets the traceback (redacted). The
        # route's pattern, not the path: a callback path holds its secret.
        rule = request.url_rule.rule if request.url_rule is not None else "?"
        log.error("unhandled error answering %s %s", request.method, rule, exc_info=err)
        return json_error(500, "internal error")
