"""The one road to put.io: auth, timeouts, retries, rate limits and error mapping.

Every request the client makes goes through ``HttpCore._request``, so there is one place that
decides what is retried (idempotent calls on 5xx and network errors; anything refused with 429),
how long to wait, and which exception a failure becomes.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Self
from urllib.parse import urlencode

import requests
from requests.adapters import HTTPAdapter

from putbridge import __version__
from putbridge.errors import AuthError, NotFound, PutioError, RateLimited, TransientError
from putbridge.logs import redact, register_secret

log = logging.getLogger("putbridge.putio")

DEFAULT_API_URL = "https://api.put.io/v2"
DEFAULT_UPLOAD_URL = "https://upload.put.io/v2"
USER_AGENT = f"putbridge/{__version__}"
LOGIN_HINT = "run `putbridge login` to link putbridge to your put.io account"
# A 429 is retried even for non-idempotent calls, so it needs a bound of its own.
MAX_RATE_LIMIT_RETRIES = 10
MIN_RATE_LIMIT_WAIT = 1.0
_SNIPPET_CHARS = 200

# ChunkedEncodingError: the connection broke mid-body, which is as transient as a reset.
_NETWORK_ERRORS = (
    requests.Timeout,
    requests.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
)


class HttpCore:
    """Holds the session and the token and sends every request; endpoints live in the subclass."""

    def __init__(
        self,
        token: str | None,
        *,
        api_url: str = DEFAULT_API_URL,
        upload_url: str = DEFAULT_UPLOAD_URL,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        max_attempts: int = 5,
        max_rate_limit_wait: float = 900.0,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.time,
    ) -> None:
        if timeout <= 0 or max_attempts < 1 or max_rate_limit_wait < 0:
            raise ValueError("timeout must be > 0, max_attempts >= 1, max_rate_limit_wait >= 0")
        self._token = token or None
        if self._token:
            register_secret(self._token)
        self.api_url = api_url.rstrip("/")
        self.upload_url = upload_url.rstrip("/")
        self._owns_session = session is None
        self._session = session if session is not None else _pooled_session()
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.max_rate_limit_wait = max_rate_limit_wait
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._sleep = sleep
        self._now = now
        self._lock = threading.Lock()
        self._request_count = 0
        self._rate_limited = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(api_url={self.api_url!r})"

    @property
    def request_count(self) -> int:
        """HTTP requests actually sent, retries included."""
        return self._request_count

    @property
    def has_token(self) -> bool:
        return self._token is not None

    def close(self) -> None:
        """Close the session, unless the caller lent it to us."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return f"{self.api_url}/{path_or_url.lstrip('/')}"

    def _request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        json: Any = None,
        files: Mapping[str, Any] | None = None,
        idempotent: bool,
        allow_redirects: bool = True,
        auth: bool = True,
        raw: bool = False,
    ) -> Any:
        """Send one call to put.io; return the decoded JSON object (or the response if raw).

        Retries 429 after the wait put.io asks for, and 5xx/network errors with backoff when
        ``idempotent``; raises the matching PutioError subclass otherwise.
        """
        url = self._url(path_or_url)
        what = self._describe(method, url)
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if auth:
            if self._token is None:
                raise AuthError(f"no put.io token is configured; {LOGIN_HINT}")
            headers["Authorization"] = f"token {self._token}"
        failures = 0
        waits = 0
        waited = 0.0  # rate-limit waits of this call: bounded in total by max_rate_limit_wait
        while True:
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s %s", method, f"{url}?{urlencode(params)}" if params else url)
            with self._lock:
                self._request_count += 1
            try:
                resp = self._session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    json=json,
                    files=files,
                    headers=headers,
                    timeout=self.timeout,
                    allow_redirects=allow_redirects,
                )
            except _NETWORK_ERRORS as err:
                failures += 1
                reason = f"put.io {what} failed: {type(err).__name__}: {err}"
                if not idempotent or failures >= self.max_attempts:
                    message = _gave_up(what, reason, failures, idempotent)
                    raise TransientError(redact(message)) from err
                self._back_off(failures, reason)
                continue
            except requests.RequestException as err:
                raise PutioError(redact(f"put.io {what} failed: {err}")) from err

            status = resp.status_code
            if status == 429:
                waits += 1
                wait = self._rate_limit_wait(resp, waits)
                error = _error_from(resp, what)
                resp.close()
                if waited + wait > self.max_rate_limit_wait or waits > MAX_RATE_LIMIT_RETRIES:
                    raise _rate_limited(error, what, wait, waits, waited, self.max_rate_limit_wait)
                self._note_rate_limit(what, wait)
                self._sleep(wait)
                waited += wait
                continue
            self._end_rate_limit()
            if status >= 500:
                failures += 1
                error = _error_from(resp, what)
                resp.close()
                if not idempotent or failures >= self.max_attempts:
                    raise TransientError(
                        _gave_up(what, str(error), failures, idempotent),
                        error_type=error.error_type,
                        error_message=error.error_message,
                        status_code=error.status_code,
                    )
                self._back_off(failures, str(error))
                continue
            if status >= 400:
                raise _error_from(resp, what)
            if raw:
                return resp
            return _decode(resp, what)

    def _describe(self, method: str, url: str) -> str:
        """'GET files/list' for messages: short, and never with a query (which may hold a token)."""
        base = url.split("?", 1)[0]
        if base.startswith(self.api_url + "/"):
            base = base[len(self.api_url) + 1 :]
        return f"{method} {base}"

    def _back_off(self, failures: int, reason: str) -> None:
        # Full jitter: clients that failed together do not come back together.
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (failures - 1))
        wait = random.uniform(0, delay)
        log.info("%s; retry %d of %d in %.1f s", reason, failures, self.max_attempts - 1, wait)
        self._sleep(wait)

    def _rate_limit_wait(self, resp: requests.Response, waits: int) -> float:
        """Seconds put.io asks us to wait, at least MIN_RATE_LIMIT_WAIT so we never spin.

        Relative answers come first (Retry-After, then a body ``retry_after``): they do not
        depend on our clock agreeing with put.io's. X-RateLimit-Reset (epoch seconds) is the
        fallback, since a skewed local clock turns it into a wrong wait.
        """
        now = self._now()
        candidates: list[float | None] = []
        retry_after = resp.headers.get("Retry-After")
        if retry_after is not None:
            seconds = _float(retry_after)
            candidates.append(seconds if seconds is not None else _http_date(retry_after, now))
        body = _json_object(resp)
        from_body = body.get("retry_after") if body is not None else None
        if isinstance(from_body, int | float) and not isinstance(from_body, bool):
            candidates.append(float(from_body))
        reset = _float(resp.headers.get("X-RateLimit-Reset"))
        if reset is not None:
            candidates.append(reset - now)
        for value in candidates:
            if value is not None and math.isfinite(value) and value > 0:
                return max(MIN_RATE_LIMIT_WAIT, value)
        # put.io said nothing usable (or a reset already past): back off on our own.
        return max(MIN_RATE_LIMIT_WAIT, min(self.backoff_cap, self.backoff_base * 2 ** (waits - 1)))

    def _note_rate_limit(self, what: str, wait: float) -> None:
        # One warning per episode: a sync that waits twenty times should not log twenty lines.
        with self._lock:
            first = not self._rate_limited
            self._rate_limited = True
        if first:
            log.warning(
                "put.io is rate limiting us (%s); waiting %.0f s, then retrying", what, wait
            )

    def _end_rate_limit(self) -> None:
        if self._rate_limited:
            with self._lock:
                was, self._rate_limited = self._rate_limited, False
            if was:
                log.info("put.io rate limit lifted")


def _float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text.strip())
    except ValueError:
        return None


def _http_date(text: str, now: float) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return when.timestamp() - now


def _json_object(resp: requests.Response) -> dict[str, Any] | None:
    try:
        body = resp.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SNIPPET_CHARS else text[: _SNIPPET_CHARS - 3] + "..."


def _error_from(resp: requests.Response, what: str) -> PutioError:
    """The exception for an error answer, keeping put.io's error_type and error_message."""
    status = resp.status_code
    body = _json_object(resp) or {}
    error_type = body.get("error_type", body.get("error"))
    error_type = error_type if isinstance(error_type, str) and error_type else None
    error_message = body.get("error_message")
    error_message = redact(error_message) if isinstance(error_message, str) else None
    detail = ": ".join(part for part in (error_type, error_message) if part)
    if not detail:
        detail = ("" if body else _snippet(resp.text)) or resp.reason or ""
    message = f"put.io {what} failed: HTTP {status}" + (f" {detail}" if detail else "")
    cls: type[PutioError] = PutioError
    if status in (401, 403):
        cls = AuthError
        message = f"{message}; {LOGIN_HINT}"
    elif status == 404:
        cls = NotFound
    elif status == 429:
        cls = RateLimited
    elif status >= 500:
        cls = TransientError
    return cls(
        redact(message), error_type=error_type, error_message=error_message, status_code=status
    )


def _gave_up(what: str, reason: str, failures: int, idempotent: bool) -> str:
    if not idempotent:
        return f"{reason} (not retried: {what} may have been carried out)"
    if failures > 1:
        return f"{reason} (gave up after {failures} attempts)"
    return reason


def _rate_limited(
    error: PutioError, what: str, wait: float, waits: int, waited: float, max_wait: float
) -> RateLimited:
    if waited + wait > max_wait:
        why = f"asks to wait {wait:.0f} s, more than the {max_wait:.0f} s allowed"
        if waited:
            why += f" after {waited:.0f} s of waiting already"
    else:
        why = f"still refuses after {waits - 1} waits"
    return RateLimited(
        f"put.io is rate limiting {what} and {why}",
        retry_after=wait,
        error_type=error.error_type,
        error_message=error.error_message,
        status_code=error.status_code,
    )


def _decode(resp: requests.Response, what: str) -> dict[str, Any]:
    if resp.status_code == 204:
        return {}
    try:
        body = resp.json()
    except ValueError:
        body = None
        shown = _snippet(resp.text) or "an empty body"
    else:
        # Only for the error below: a page of 1,000 files is costly to repr.
        shown = "" if isinstance(body, dict) else _snippet(repr(body))
    if not isinstance(body, dict):
        raise PutioError(
            redact(f"put.io sent a malformed answer to {what} (not a JSON object): {shown}"),
            status_code=resp.status_code,
        )
    return body


def _pooled_session() -> requests.Session:
    """A session whose connection pool fits the daemon's threads (blackhole and submit
    workers, the monitor, the sync): requests' default keeps 10 and warns past them."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
