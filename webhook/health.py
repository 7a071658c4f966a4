"""``GET /health``: 200 when every check passes, 503 otherwise; no key needed.

Docker's HEALTHCHECK and uptime monitors call it, so it answers without authentication and shows
only what the ``health`` callable returns: ``{"ok": bool, "checks": {name: {"ok", "detail"}}}``.
The checks' details are written by putbridge (no account data, no token); the answer still goes
through ``redact`` like every JSON answer. A check that raises is a failed check, not a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app

from .replies import json_reply

log = logging.getLogger("putbridge.webhook.health")

bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> Response:
    check: Callable[[], dict[str, Any]] | None = current_app.extensions["putbridge"].get("health")
    if check is None:
        return json_reply({"ok": True, "checks": {}})
    try:
        result = check()
        # Only a literal True is healthy; the body's "ok" always agrees with the status.
        ok = result.get("ok") is True
        return json_reply({**result, "ok": ok}, 200 if ok else 503)
    except Exception:
        # A broken check (or an answer that is not JSON-safe) means unhealthy, not a 500 page.
        log.exception("the health check failed")
        return json_reply({"ok": False, "checks": {}, "error": "the health check failed"}, 503)
