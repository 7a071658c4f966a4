"""A put.io emulator: an in-memory account served by a Flask app, close enough to put.io that
the official client (putiopy) and putbridge's own client work against it unchanged.

    emu = Emulator(token="tok", clock=ManualClock())
    emu.populate_sample()
    with EmulatorServer(emu) as server:
        ...  # server.api_url, server.upload_url

See docs/putio-emulator.md.
"""

from __future__ import annotations

from .app import create_emulator_app
from .clock import ManualClock, RealClock
from .emulator import Emulator
from .errors import ApiError
from .server import EmulatorServer

__all__ = [
    "ApiError",
    "Emulator",
    "EmulatorServer",
    "ManualClock",
    "RealClock",
    "create_emulator_app",
]
