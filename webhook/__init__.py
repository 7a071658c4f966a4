"""putbridge's HTTP face: the web API, the put.io callback and the stream links.

``create_app(...)`` builds the Flask app from its collaborators; ``BridgeServer`` serves it with
waitress. The core (``putbridge``) never imports this package.
"""

from __future__ import annotations

from .app import create_app
from .server import BridgeServer

__all__ = ["BridgeServer", "create_app"]
