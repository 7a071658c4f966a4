"""Emulator-only routes (no auth, not part of put.io): /_emulator/* knobs and the /link page
where a person approves an OOB code, as they would on put.io's own link page."""

from __future__ import annotations

from html import escape

from flask import Blueprint, Response, request

from .errors import ApiError
from .faults import UNSET
from .webutil import emulator, float_param, get_param, int_param, ok, params, require_param

bp = Blueprint("putio_emulator_control", __name__)


@bp.post("/_emulator/faults")
def set_faults() -> Response:
    emu = emulator()
    body = params()
    rate_limit: object = UNSET
    if "rate_limit" in body:
        value = body["rate_limit"]
        if value in (None, "", "null", "off"):
            rate_limit = None
        elif isinstance(value, dict):
            rate_limit = (int(value.get("limit", 0)), float(value.get("window", 1.0)))
        elif isinstance(value, list | tuple) and len(value) == 2:
            rate_limit = (int(value[0]), float(value[1]))
        else:
            raise ApiError(
                400, "BadRequest", 'rate_limit must be {"limit": N, "window": S} or null'
            )
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
    emu.clock.advance(seconds)
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
    file_id = emulator().add_path(path, size=int_param("size"))
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
