"""The Flask app factory: collaborators in, one blueprint per concern registered.

Collaborators are passed explicitly and kept in ``app.extensions["putbridge"]`` (a dict by
name), where each blueprint reads what it needs; nothing is global, so tests build as many apps
as they like. A new concern adds its keyword argument here and registers its blueprint.

Every collaborator is optional. The stream links need ``signer``, ``client`` and ``url_cache``
together and are served only when all three are given. The API and the callback are always
routed but closed until configured: without ``api_key`` every ``/api`` call answers 503 (never
open by default); without ``callback_secret`` every callback path is a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Flask

from putbridge.library.links import LinkSigner, StreamUrlCache
from putbridge.logs import register_secret
from putbridge.putio import PutioClient

from . import api, callback, stream
from .health import bp as health_blueprint
from .replies import install_json_errors

if TYPE_CHECKING:
    from putbridge.intake.submit import TransferService

EXTENSION_KEY = "putbridge"


def create_app(
    *,
    signer: LinkSigner | None = None,
    client: PutioClient | None = None,
    url_cache: StreamUrlCache | None = None,
    transfers: TransferService | None = None,
    api_key: str | None = None,
    callback_secret: str | None = None,
    health: Callable[[], dict[str, Any]] | None = None,
) -> Flask:
    """The web app: stream links, the transfer API, put.io's callback and the health check."""
    streaming = (signer, client, url_cache)
    if any(part is None for part in streaming) and any(part is not None for part in streaming):
        raise TypeError("stream links need signer, client and url_cache together")
    for secret in (api_key, callback_secret):
        if secret:
            # Kept out of every log line from now on, whoever writes it.
            register_secret(secret)
    app = Flask("webhook")
    # Checked from the Content-Length before a body is read; bodies without one stop there too.
    app.config["MAX_CONTENT_LENGTH"] = api.MAX_BODY_BYTES
    app.extensions[EXTENSION_KEY] = {
        "signer": signer,
        "client": client,
        "url_cache": url_cache,
        "transfers": transfers,
        "api_key": api_key or None,
        "callback_secret": callback_secret or None,
        "health": health,
    }
    install_json_errors(app)
    if signer is not None:
        app.register_blueprint(stream.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(callback.bp)
    app.register_blueprint(health_blueprint)
    return app
