#!/usr/bin/env python3
"""The image's HEALTHCHECK: exit 0 when putbridge's GET /health answers 200, else 1.

The slim image has no curl, so this is the standard library plus putbridge's own settings
loader: the port and bind address come from wherever the daemon reads them (file or
PUTBRIDGE_SERVER__LISTEN). What it prints (the /health JSON, which names the failing check)
is what `docker inspect` shows under State.Health.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from putbridge.config import load_settings
from putbridge.errors import PutbridgeError
from putbridge.urls import local_base_url


def main() -> int:
    try:
        listen = load_settings().server.listen
    except PutbridgeError as err:
        print(f"config: {err}")
        return 1
    host, _, port = listen.rpartition(":")
    url = local_base_url(host.strip("[]"), int(port) if port.isdigit() else 9091) + "/health"
    # No proxies: an HTTP_PROXY set for the container's outbound calls must not see this one.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as response:
            print(response.read(4000).decode("utf-8", "replace"))
            return 0
    except urllib.error.HTTPError as err:  # 503: the body says which check failed
        print(f"{url}: {err.code} {err.read(4000).decode('utf-8', 'replace')}")
    except OSError as err:  # not listening (yet), refused, timed out
        print(f"{url}: {err}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
