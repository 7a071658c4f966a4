"""The put.io device-link (OOB) flow: show a code, wait until the user links it, keep the token."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from putbridge import tomlfile
from putbridge.errors import AuthError, NotFound
from putbridge.putio import PutioClient

LINK_PAGE = "https://put.io/link"
POLL_INTERVAL = 3.0
# put.io does not document a code lifetime; we stop waiting long after any sensible one.
MAX_WAIT = 15 * 60.0


def link_device(
    client: PutioClient,
    *,
    on_code: Callable[[str], None],
    interval: float = POLL_INTERVAL,
    max_wait: float = MAX_WAIT,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> str:
    """Ask put.io for a code, hand it to ``on_code``, poll until linked; return the token."""
    code = client.oob_code().code
    on_code(code)
    deadline = monotonic() + max_wait
    while True:
        sleep(interval)
        try:
            token = client.oob_poll(code)
        except NotFound as err:
            raise AuthError(
                f"the code {code} expired before it was linked: run `putbridge login` again"
            ) from err
        if token:
            return token
        if monotonic() >= deadline:
            raise AuthError(
                f"gave up after {max_wait / 60:.0f} minutes waiting for the code {code} to be "
                "linked: run `putbridge login` again"
            )


def save_token(config_path: Path, token: str) -> None:
    """Write ``[putio] token`` into the config file (mode 0600), keeping its other content."""
    tomlfile.set_key(config_path, "putio", "token", token)
