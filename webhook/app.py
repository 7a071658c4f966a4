"""The Flask app factory: collaborators in, one blueprint per concern registered.

Collaborators are passed explicitly and kept in ``app.extensions["putbridge"]`` (a dict by
name), where each blueprint reads what it needs; nothing is global, so tests build as many apps
as they like. A new concern adds its keyword argument here and registers its blueprint.
"""

from __future__ import annotations

from flask import Flask

from putbridge.library.links import LinkSigner, StreamUrlCache
from putbridge.putio import PutioClient

from . import stream

EXTENSION_KEY = "putbridge"


def create_app(
    *,
    signer: LinkSigner,
    client: PutioClient,
    url_cache: StreamUrlCache,
) -> Flask:
    """The web app: stream links (``/stream``, ``/proxy``) for now."""
    app = Flask("webhook")
    app.extensions[EXTENSION_KEY] = {
        "signer": signer,
        "client": client,
        "url_cache": url_cache,
    }
    app.register_blueprint(stream.bp)
    return app
