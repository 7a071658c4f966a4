"""The one error the emulator's model raises; the Flask app turns it into put.io's error JSON."""

from __future__ import annotations


class ApiError(Exception):
    """A put.io-style error: HTTP status, `error_type` and a human `error_message`."""

    def __init__(
        self,
        status_code: int,
        error_type: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status_code} {error_type}: {message}")
        self.status_code = status_code
        self.error_type = error_type
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict:
        return {
            "status": "ERROR",
            "error_type": self.error_type,
            "error_message": self.message,
            "status_code": self.status_code,
        }


def not_found(what: str = "File") -> ApiError:
    return ApiError(404, "NotFound", f"{what} not found")
