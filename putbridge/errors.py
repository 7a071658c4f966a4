"""The exception tree: every error putbridge raises on purpose is a PutbridgeError.

The CLI turns one into a single line; the web layer turns one into a JSON error.
"""

from __future__ import annotations


class PutbridgeError(Exception):
    """Base of every error putbridge raises on purpose."""


class ConfigError(PutbridgeError):
    """The configuration is missing, unreadable or invalid."""


class PutioError(PutbridgeError):
    """put.io answered with an error, or could not be reached.

    Keeps put.io's own ``error_type``, ``error_message`` and ``status_code`` (the HTTP status, or
    None when no answer arrived).
    """

    def __init__(
        self,
        message: str,
        *,
        error_type: str | None = None,
        error_message: str | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.error_message = error_message
        self.status_code = status_code


class AuthError(PutioError):
    """The token is missing, invalid, revoked or lacks the scope (HTTP 401/403)."""


class RateLimited(PutioError):
    """put.io said 429 and the client gave up waiting (or was told not to wait)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class NotFound(PutioError):
    """The file, transfer or code does not exist (HTTP 404)."""


class TransientError(PutioError):
    """A 5xx, a timeout or a connection error: trying again later may work."""


class MediaServerError(PutbridgeError):
    """A media server refused or failed a request."""


class IntakeError(PutbridgeError):
    """A dropped or posted torrent, magnet or URL is not acceptable."""


class ShuttingDown(PutbridgeError):
    """The daemon is stopping: a wait was cut short."""
