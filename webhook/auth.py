"""The API key check in front of every ``/api`` route, reads included (they show what the account
downloads).

The key travels only in a header, ``X-Api-Key: KEY`` or ``Authorization: Bearer KEY``: never in
the query string (it would end up in logs and browser history) nor in a form field (a hostile web
page could then post one; a custom header forces a CORS preflight the app never grants). When both
headers are sent, a non-empty ``X-Api-Key`` is the one checked.

With no key configured the API is closed, not open: every call gets 503 ``the web API is
disabled``. 503 rather than 401 because no key the client could send would help: the fix is on
the server's side.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from flask import Response, current_app, request

from .replies import json_error

log = logging.getLogger("putbridge.webhook.auth")

CHALLENGE = 'Bearer realm="putbridge"'


def _digest(value: bytes) -> bytes:
    # Equal-length digests: compare_digest then leaks nothing, not even the key's length.
    return hashlib.sha256(value).digest()


def key_matches(given: str, expected: str) -> bool:
    """Constant-time comparison of a header value with the configured key.

    WSGI gives header values as latin-1 strings; encoding back to latin-1 recovers the bytes the
    client sent, so a non-ASCII key sent as UTF-8 matches its UTF-8 encoding.
    """
    try:
        raw = given.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(_digest(raw), _digest(expected.encode("utf-8")))


def presented_key() -> str | None:
    """The key the request carries, or None."""
    key = request.headers.get("X-Api-Key", "").strip()
    if key:
        return key
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


def require_api_key() -> Response | None:
    """A ``before_request`` hook: None to go on, or the refusal."""
    expected: str | None = current_app.extensions["putbridge"].get("api_key")
    if not expected:
        return json_error(503, "the web API is disabled: no api_key is configured")
    given = presented_key()
    if given is None:
        return _refuse("an API key is required (X-Api-Key or Authorization: Bearer)")
    if not key_matches(given, expected):
        # Never the key itself, right or wrong, in a log line.
        log.warning("refused an API call with a wrong key from %s", request.remote_addr)
        return _refuse("the API key is not valid", 'error="invalid_token"')
    return None


def _refuse(message: str, detail: str = "") -> Response:
    challenge = f"{CHALLENGE}, {detail}" if detail else CHALLENGE
    return json_error(401, message, {"WWW-Authenticate": challenge})
