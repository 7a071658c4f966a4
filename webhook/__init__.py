"""putbridge's HTTP face: the web API, the put.io callback and the stream links.

``create_app(...)`` builds the Flask app from its collaborators; ``BridgeServer`` serves it with
waitress. The core never imports this package, except ``putbridge.service`` (the daemon) and
``putbridge serve``, which start it.
"""

from __future__ import annotations

from .app import create_app
from .server import BridgeServer

__all__ = ["BridgeServer", "create_app"]
