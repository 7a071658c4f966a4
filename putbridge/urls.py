"""URLs for servers putbridge runs itself."""

from __future__ import annotations


def local_base_url(host: str, port: int) -> str:
    """How a process on this machine reaches a server bound to ``host``:``port``.

    A wildcard bind (0.0.0.0, ::, "") is reached on the loopback address; an IPv6 literal is
    bracketed.
    """
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"
