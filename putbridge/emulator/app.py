"""The Flask app: faults, stats, tick and auth around every API request, put.io error JSON,
CORS, and one blueprint per concern."""

from __future__ import annotations

import logging
import re

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from .emulator import Emulator
from .errors import ApiError
from .webutil import EXTENSION_KEY, request_token

log = logging.getLogger(__name__)

# Endpoints under /v2 that put.io answers without a token.
PUBLIC_ENDPOINTS = frozenset(
    {
        "putio_account.oob_code",
        "putio_account.oob_poll",
        "putio_account.validate",
        "putio_media.screenshot",
    }
)
_HTTP_ERROR_TYPES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "RequestEntityTooLarge",
    416: "RangeNotSatisfiable",
}
_CONVERTER = re.compile(r"<(?:[^:>]+:)?([^>]+)>")


def _is_api_path(path: str) -> bool:
    return path == "/v2" or path.startswith(("/v2/", "/upload/v2/"))


def _route_key() -> str:
    rule = request.url_rule
    if rule is None:
        return f"{request.method} <unmatched>"
    path = _CONVERTER.sub(r"<\1>", rule.rule)
    for prefix in ("/upload/v2", "/v2"):
        if path.startswith(prefix):
            path = path[len(prefix) :]
            break
    return f"{request.method} {path}"


def _error_response(err: ApiError) -> Response:
    response = jsonify(err.body())
    response.status_code = err.status_code
    for key, value in err.headers.items():
        response.headers[key] = value
    return response


def create_emulator_app(emu: Emulator) -> Flask:
    """A Flask app serving `emu` the way put.io serves an account (see docs/putio-emulator.md)."""
    from .routes_account import bp as account_bp
    from .routes_control import bp as control_bp
    from .routes_files import bp as files_bp
    from .routes_media import blob_bp
    from .routes_media import bp as media_bp
    from .routes_transfers import bp as transfers_bp
    from .routes_transfers import upload_bp

    app = Flask("putbridge.emulator")
    app.extensions[EXTENSION_KEY] = emu
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.compact = True  # type: ignore[attr-defined]

    for blueprint in (files_bp, media_bp, transfers_bp, account_bp):
        app.register_blueprint(blueprint, url_prefix="/v2")
    app.register_blueprint(upload_bp, url_prefix="/upload/v2")
    app.register_blueprint(blob_bp)
    app.register_blueprint(control_bp)

    @app.before_request
    def around_api_request() -> None:
        if not _is_api_path(request.path) or request.method == "OPTIONS":
            return
        emu.count_request(_route_key())
        emu.faults.apply()
        emu.tick()
        if request.url_rule is None or request.endpoint in PUBLIC_ENDPOINTS:
            return
        if emu.token_id(request_token()) is None:
            raise ApiError(
                401,
                "invalid_grant",
                "Missing or invalid OAuth token (send 'Authorization: token X')",
            )

    @app.after_request
    def add_cors(response: Response) -> Response:
        response.headers["Access-Control-Allow-Origin"] = "*"
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, POST, PUT, DELETE"
        return response

    @app.errorhandler(ApiError)
    def api_error(err: ApiError) -> Response:
        return _error_response(err)

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> Response:
        code = err.code or 500
        error_type = _HTTP_ERROR_TYPES.get(code, "Error")
        message = err.description or error_type
        if code == 404:
            message = f"No such route: {request.method} {request.path}"
        response = _error_response(ApiError(code, error_type, message))
        if code == 405 and err.get_response().headers.get("Allow"):
            response.headers["Allow"] = err.get_response().headers["Allow"]
        return response

    @app.errorhandler(Exception)
    def unexpected_error(err: Exception) -> Response:
        log.exception("emulator error on %s %s", request.method, request.path)
        return _error_response(ApiError(500, "InternalServerError", f"{type(err).__name__}: {err}"))

    return app
