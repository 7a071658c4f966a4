"""Emulator-only routes (not part of put.io): /_emulator/* knobs and the /link page where a
person approves an OOB code, as they would on put.io's own link page.

They take no token but hand tokens out and change faults, so they answer only requests from
this machine (a loopback address); others get 403, even when the server listens on 0.0.0.0."""

from __future__ import annotations

import math
from html import escape

from flask import Blueprint, Response, request

from .errors import ApiError
from .faults import UNSET
from .webutil import (
    emulator,
    float_param,
    get_param,
    int_param,
    is_loopback_client,
    ok,
    params,
    require_param,
)

bp = Blueprint("putio_emulator_control", __name__)

_RATE_LIMIT_SHAPE = 'rate_limit must be {"limit": N, "window": S} (N >= 1, S > 0) or null'


@bp.before_request
def loopback_only() -> None:
    if not is_loopback_client():
        raise ApiError(
            403,
            "Forbidden",
            "The emulator's control routes and link page answer only requests from this machine",
        )


def _rate_limit(value: object) -> tuple[int, float] | None:
    if value in (None, "", "null", "off"):
        return None
    if isinstance(value, dict):
        limit, window = value.get("limit", 0), value.get("window", 1.0)
    elif isinstance(value, list | tuple) and len(value) == 2:
        limit, window = value
    else:
        raise ApiError(400, "BadRequest", _RATE_LIMIT_SHAPE)
    if isinstance(limit, bool) or isinstance(window, bool):
        raise ApiError(400, "BadRequest", _RATE_LIMIT_SHAPE)
    try:
        limit, window = int(limit), float(window)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError) as err:
        raise ApiError(400, "BadRequest", _RATE_LIMIT_SHAPE) from err
    if limit < 1 or not math.isfinite(window) or window <= 0:
        raise ApiError(400, "BadRequest", _RATE_LIMIT_SHAPE)
    return limit, window


@bp.post("/_emulator/faults")
def set_faults() -> Response:
    emu = emulator()
    body = params()
    rate_limit: object = _rate_limit(body["rate_limit"]) if "rate_limit" in body else UNSET
    try:
        emu.set_faults(
            latency=float_param("latency"),
            error_rate=float_param("error_rate"),
            rate_limit=rate_limit,
        )
    except (TypeError, ValueError) as err:
        raise ApiError(400, "BadRequest", str(err)) from err
    return ok(faults=emu.faults.snapshot())


@bp.get("/_emulator/faults")
def get_faults() -> Response:
    return ok(faults=emulator().faults.snapshot())


@bp.post("/_emulator/clock/advance")
def advance_clock() -> Response:
    emu = emulator()
    seconds = float_param("seconds")
    if seconds is None or seconds < 0:
        raise ApiError(400, "BadRequest", "seconds must be a number >= 0")
    if not emu.clock.is_manual:
        raise ApiError(400, "BadRequest", "The emulator runs on the real clock; it cannot advance")
    try:
        emu.clock.advance(seconds)
    except ValueError as err:
        raise ApiError(400, "BadRequest", str(err)) from err
    return ok(now=emu.clock.now())


@bp.post("/_emulator/tick")
def tick() -> Response:
    emulator().tick()
    return ok()


@bp.get("/_emulator/stats")
def stats() -> Response:
    return ok(**emulator().stats)


@bp.post("/_emulator/stats/reset")
def stats_reset() -> Response:
    emulator().reset_stats()
    return ok()


@bp.post("/_emulator/dead")
def mark_dead() -> Response:
    emulator().mark_dead(require_param("substring"))
    return ok()


@bp.post("/_emulator/oob/approve")
def approve() -> Response:
    return ok(oauth_token=emulator().approve_code(require_param("code")))


@bp.get("/_emulator/oob/pending")
def pending() -> Response:
    return ok(codes=emulator().pending_codes())


@bp.post("/_emulator/files")
def add_file() -> Response:
    path = require_param("path")
    size = int_param("size")
    if size is not None and size < 0:
        raise ApiError(400, "BadRequest", "size must be an integer >= 0")
    try:
        file_id = emulator().add_path(path, size=size)
    except ValueError as err:
        raise ApiError(400, "BadRequest", str(err)) from err
    return ok(file_id=file_id)


_LINK_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Link a device - put.io emulator</title></head>
<body style="font-family: sans-serif; max-width: 30em; margin: 3em auto">
<h1>Link a device</h1>
<p>{message}</p>
<form method="post" action="link">
<label>Code <input name="code" value="{code}" autofocus></label>
<button type="submit">Link</button>
</form>
<p>Pending codes: {pending}</p>
</body></html>
"""


@bp.route("/link", methods=["GET", "POST"])
def link_page() -> Response:
    emu = emulator()
    code = (get_param("code") or "").strip().upper()
    message = "Enter the code your device shows."
    status = 200
    if request.method == "POST":
        try:
            emu.approve_code(code)
            message = f"Linked: the device that shows {escape(code)} is now signed in."
        except ApiError as err:
            message, status = escape(err.message), err.status_code
    body = _LINK_PAGE.format(
        message=message,
        code=escape(code),
        pending=escape(", ".join(emu.pending_codes()) or "none"),
    )
    return Response(body, status=status, mimetype="text/html")
