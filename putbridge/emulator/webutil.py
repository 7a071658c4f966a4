"""Request helpers for the routes: the emulator, base URL, parameters from query, form,
multipart or JSON bodies, put.io-style flags, and JSON responses."""

from __future__ import annotations

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
        if request.is_json:
            body = request.get_json(silent=True)
            if isinstance(body, dict):
                merged.update(body)
    g._putio_params = merged
    return merged


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
        return float(value)
    except ValueError as err:
        raise ApiError(400, "BadRequest", f"{name} must be a number, not {value!r}") from err


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


def request_token() -> str | None:
    """The token from `Authorization: token|Token|Bearer X` or the oauth_token query param."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() in ("token", "bearer") and value.strip():
        return value.strip()
    return request.args.get("oauth_token") or None
