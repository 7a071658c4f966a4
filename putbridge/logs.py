"""Logging setup and secret redaction.

Tokens must never reach a log, whatever logger writes the line: urllib3 logs request lines at
debug, and a direct-mode URL carries ``oauth_token`` in its query. Filters on our own handlers
would miss records that other handlers (pytest's caplog, a user's handler) see first, so one
process-wide record factory rewrites every record as it is created. The registry of secrets is
the one module-level global putbridge accepts.
"""

from __future__ import annotations

import json as jsonlib
import logging
import sys
import threading
import traceback
from urllib.parse import quote

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 6
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_HANDLER_NAME = "putbridge-stderr"


class _Redactor:
    """The registered secrets, and the record factory that scrubs them from every record."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Replaced whole under the lock and read without it: readers see an old or a new tuple,
        # never a half-updated one. Longest first, so a secret containing another goes whole.
        self._secrets: tuple[str, ...] = ()
        self._installed = False

    def register(self, value: str) -> None:
        if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
            return
        # A token pasted into a URL is percent-encoded if it holds reserved characters.
        variants = {value, quote(value, safe="")}
        with self._lock:
            merged = set(self._secrets) | variants
            self._secrets = tuple(sorted(merged, key=len, reverse=True))
            if not self._installed:
                self._install()
                self._installed = True

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def _contains_secret(self, text: str) -> bool:
        return any(secret in text for secret in self._secrets)

    def _install(self) -> None:
        previous = logging.getLogRecordFactory()

        def factory(*args: object, **kwargs: object) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            self.scrub(record)
            return record

        logging.setLogRecordFactory(factory)

    def scrub(self, record: logging.LogRecord) -> None:
        """Rewrite a record in place so that no registered secret survives formatting."""
        if not self._secrets:
            return
        try:
            message = record.getMessage()
        except Exception:
            # A bad format string is the handler's error to report, not the caller's to catch.
            return
        if self._contains_secret(message):
            record.msg = self.redact(message)
            record.args = ()
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            if self._contains_secret(text):
                # Formatters reuse exc_text when set, so the traceback is printed redacted.
                record.exc_text = self.redact(text)
        if record.stack_info and self._contains_secret(record.stack_info):
            record.stack_info = self.redact(record.stack_info)


_redactor = _Redactor()


def register_secret(value: str) -> None:
    """Redact ``value`` from every log record from now on (values under 6 chars are ignored)."""
    _redactor.register(value)


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``[REDACTED]``."""
    return _redactor.redact(text)


class _RedactingFormatter(logging.Formatter):
    """Last line of defence for records made before a secret was registered."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _JsonFormatter(_RedactingFormatter):
    """One JSON object per line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return redact(jsonlib.dumps(entry, ensure_ascii=False))


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time of the record, not at set-up.

    Test runners and embedding programs swap sys.stderr; a handler bound to the old stream would
    write to a closed file.
    """

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def setup_logging(level: int | str = logging.INFO, json: bool = False) -> logging.Handler:
    """Send log records at ``level`` and above to stderr; calling it again replaces the handler."""
    if isinstance(level, str):
        level = level.upper()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
            handler.close()
    handler = _StderrHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(_JsonFormatter() if json else _RedactingFormatter(LOG_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    return handler
