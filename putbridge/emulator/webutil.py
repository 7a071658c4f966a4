"""Request helpers for the routes: the emulator, base URL, parameters from query, form,
multipart or JSON bodies, put.io-style flags, and JSON responses."""

from __future__ import annotations

import ipaddress
import json
import math
from typing import Any

from flask import Response, current_app, g, jsonify, request

from .emulator import Emulator
from .errors import ApiError

EXTENSION_KEY = "putio_emulator"
_TRUE = {"1", "true", "yes", "on", "t", "y"}


def emulator() -> Emulator:
    return current_app.extensions[EXTENSION_KEY]


def base_url() -> str:
    """The emulator's root URL as the client reached it, ending in '/'."""
    return request.host_url


def params() -> dict[str, Any]:
    """Query args, then form fields, then a JSON object body (later sources win)."""
    cached = g.get("_putio_params")
    if cached is not None:
        return cached
    merged: dict[str, Any] = {}
    merged.update(request.args.to_dict())
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        merged.update(request.form.to_dict())
        body = json_body(strict=False)
        if isinstance(body, dict):
            merged.update(body)
    g._putio_params = merged
    return merged


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is too large")
    return number


def json_body(strict: bool = True) -> Any:
    """The request's JSON body, None when it has none. A body that is not JSON (or holds NaN or
    Infinity, which json.loads would accept) is ApiError 400, or None when not `strict`."""
    if not request.is_json:
        return None
    data = request.get_data(cache=True)
    if not data.strip():
        return None
    try:
        return json.loads(data, parse_constant=_no_constants, parse_float=_finite)
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
        if not strict:
            return None
        raise ApiError(400, "BadRequest", "The request body is not valid JSON") from err


def get_param(name: str, default: str | None = None) -> str | None:
    value = params().get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


def int_param(name: str, default: int | None = None) -> int | None:
    value = get_param(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value.strip())
    except ValueError as err:
        raise ApiError(400, "BadRequest", f"{name} must be an integer, not {value!r}") from err


def float_param(name: str, default: float | None = None) -> float | None:
    value = get_param(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = float(value)
    except ValueError as err:
        raise ApiError(400, "BadRequest", f"{name} must be a number, not {value!r}") from err
    if not math.isfinite(number):
        raise ApiError(400, "BadRequest", f"{name} must be a finite number, not {value!r}")
    return number


def flag(name: str) -> bool:
    """put.io flags arrive as 1/0, true/false or True/False."""
    value = get_param(name)
    return value is not None and value.strip().lower() in _TRUE


def csv_ints(*names: str) -> list[int] | None:
    """Ids from the first present CSV parameter among `names` (None when none is present)."""
    for name in names:
        value = get_param(name)
        if value is None or not value.strip():
            continue
        try:
            return [int(part) for part in value.replace(" ", "").split(",") if part]
        except ValueError as err:
            raise ApiError(400, "BadRequest", f"{name} must be a comma-separated id list") from err
    return None


def require_param(name: str) -> str:
    value = get_param(name)
    if value is None or not value.strip():
        raise ApiError(400, "BadRequest", f"{name} is required")
    return value


def ok(**fields: Any) -> Response:
    return jsonify({"status": "OK", **fields})


def json_text(text: str, status: int = 200) -> Response:
    return Response(text, status=status, mimetype="application/json")


def is_loopback_client() -> bool:
    """Whether the request comes from this machine (127.0.0.0/8, ::1 or ::ffff:127.x.x.x)."""
    try:
        address = ipaddress.ip_address((request.remote_addr or "").split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def request_token() -> str | None:
    """The token from `Authorization: token|Token|Bearer X` or the oauth_token query param."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() in ("token", "bearer") and value.strip():
        return value.strip()
    return request.args.get("oauth_token") or None
