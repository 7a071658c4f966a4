"""OOB (device link) codes: created unauthenticated, approved by the account, polled for a token.

Codes live ten minutes on the emulator clock; an unknown or expired code is a 404.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

from .errors import ApiError

CODE_TTL = 600.0
_ALPHABET = string.ascii_uppercase + string.digits


@dataclass
class OobCode:
    code: str
    app_id: str
    client_name: str | None
    created_at: float
    token: str | None = None


class OobCodes:
    """Not thread-safe by itself: the emulator calls it under its lock."""

    def __init__(self, random_seed: int | None = 0) -> None:
        self._rng = random.Random(random_seed)
        self._codes: dict[str, OobCode] = {}

    def create(self, app_id: str, client_name: str | None, now: float) -> OobCode:
        while True:
            code = "".join(self._rng.choice(_ALPHABET) for _ in range(6))
            existing = self._codes.get(code)
            if existing is None or now - existing.created_at >= CODE_TTL:
                break
        entry = OobCode(code, app_id, client_name, now)
        self._codes[code] = entry
        return entry

    def get(self, code: str, now: float) -> OobCode:
        entry = self._codes.get((code or "").strip().upper())
        if entry is None or now - entry.created_at >= CODE_TTL:
            raise ApiError(404, "NotFound", "The code is unknown or has expired")
        return entry

    def approve(self, code: str, token: str, now: float) -> str:
        entry = self.get(code, now)
        entry.token = token
        return token

    def pending(self, now: float) -> list[str]:
        return [
            entry.code
            for entry in self._codes.values()
            if entry.token is None and now - entry.created_at < CODE_TTL
        ]
