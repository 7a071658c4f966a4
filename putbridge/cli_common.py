"""What every `putbridge` command shares: settings and logging from the context, one-line
errors, and waiting for Ctrl-C or SIGTERM."""

from __future__ import annotations

import functools
import signal
import threading

import click

from putbridge import config, logs
from putbridge.errors import PutbridgeError


def one_line_errors(func):
    """Turn our errors into click's one-line failure (exit status 1)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except PutbridgeError as err:
            raise click.ClickException(str(err)) from err

    return wrapper


def context_settings(ctx: click.Context, *, must_exist: bool = True) -> config.Settings:
    settings = config.load_settings(ctx.obj["config_path"], must_exist=must_exist)
    level = "DEBUG" if ctx.obj["verbose"] else settings.log.level
    logs.setup_logging(level)
    if settings.putio.token:
        logs.register_secret(settings.putio.token)
    return settings


def wait_for_signal() -> None:
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in _STOP_SIGNALS}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
