"""Signed stream links: what a .strm file holds, and the cache that answers it.

A .strm holds a stable link to putbridge itself, ``{public_url}/stream/{id}/{sig}/{name}``. The
signature is an HMAC of the file id under a secret kept in the state dir, so only links putbridge
wrote are answered, and the put.io token never lands in a library file. When the link is played,
the web layer asks the ``StreamUrlCache`` for a fresh put.io storage URL and redirects to it (or
proxies its bytes). The secret must outlive every .strm written with it: losing or changing it
breaks them all until the next sync rewrites them, so a damaged secret file is an error, never a
reason to quietly make a new one.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from putbridge.errors import ConfigError
from putbridge.putio.models import File

log = logging.getLogger("putbridge.links")

SECRET_FILE = "link-secret"
SECRET_BYTES = 32
SIGNATURE_CHARS = 32  # hex characters: 128 bits
LINK_MODES = ("bridge", "hls", "proxy", "direct")
HLS_NAME = "media.m3u8"
_SIGN_PREFIX = b"putbridge-stream:"
_SECRET_TEXT = re.compile(rf"[0-9a-fA-F]{{{SECRET_BYTES * 2}}}")
_SIGNATURE = re.compile(rf"[0-9a-f]{{{SIGNATURE_CHARS}}}")


# ---- the secret ---------------------------------------------------------------------------


def load_or_create_secret(state_dir: Path) -> bytes:
    """The link secret kept in ``state_dir/link-secret`` (64 hex characters, mode 0600).

    Created on first use: written to a private temp file, then hard-linked into place, so the
    file appears whole or not at all and a second process racing us keeps the first secret.
    """
    state_dir = Path(state_dir)
    path = state_dir / SECRET_FILE
    try:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot create the state dir {state_dir}: {err}") from err
    secret = _read_secret(path)
    if secret is not None:
        return secret
    _create_secret(path, secrets.token_bytes(SECRET_BYTES))
    secret = _read_secret(path)
    if secret is None:  # deleted between our write and our read: nothing sane to do
        raise ConfigError(f"the link secret {path} vanished just after it was created")
    return secret


def _read_secret(path: Path) -> bytes | None:
    """The secret in ``path``, None when there is no file; ConfigError when it is unusable."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    except OSError as err:
        raise ConfigError(f"cannot read the link secret {path}: {err}") from err
    if not stat.S_ISREG(mode):
        raise ConfigError(f"the link secret {path} is not a regular file")
    if stat.S_IMODE(mode) & 0o077:
        try:
            os.chmod(path, 0o600)
        except OSError as err:
            raise ConfigError(
                f"the link secret {path} is readable by others (mode {stat.S_IMODE(mode):o}) "
                f"and cannot be made private: {err}"
            ) from err
        log.warning(
            "the link secret %s was readable by others (mode %o); it is now 0600",
            path,
            stat.S_IMODE(mode),
        )
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read the link secret {path}: {err}") from err
    if not _SECRET_TEXT.fullmatch(text):
        raise ConfigError(
            f"the link secret {path} is damaged (it must hold {SECRET_BYTES * 2} hex characters);"
            " restore it from a backup, or delete it to make a new one (every .strm then stops"
            " working until the next sync rewrites it)"
        )
    return bytes.fromhex(text)


def _create_secret(path: Path, secret: bytes) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, (secret.hex() + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            # link() refuses to replace: if another process made the secret first, keep theirs.
            os.link(temp, path)
        except FileExistsError:
            pass
        except OSError:
            # Some filesystems (SMB, some FUSE mounts) have no hard links.
            os.replace(temp, path)
    except OSError as err:
        raise ConfigError(f"cannot create the link secret {path}: {err}") from err
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # not possible everywhere (Windows); the file itself was synced
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---- signatures ---------------------------------------------------------------------------


class LinkSigner:
    """Signs file ids with the link secret; verifies signatures in constant time."""

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes | bytearray) or len(secret) < 16:
            raise ValueError("the link secret must be at least 16 bytes")
        self._secret = bytes(secret)

    def __repr__(self) -> str:
        return "LinkSigner(<secret>)"

    def sign(self, file_id: int) -> str:
        """32 lowercase hex characters: HMAC-SHA256 of the id, truncated to 128 bits."""
        if isinstance(file_id, bool) or not isinstance(file_id, int) or file_id < 0:
            raise ValueError(f"a file id must be an int >= 0, not {file_id!r}")
        message = _SIGN_PREFIX + str(file_id).encode("ascii")
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:SIGNATURE_CHARS]

    def verify(self, file_id: int, sig: str) -> bool:
        """Whether ``sig`` is this secret's signature of ``file_id``; never raises."""
        # The shape check leaks nothing about the secret, only that the input is malformed.
        if not isinstance(sig, str) or not _SIGNATURE.fullmatch(sig):
            return False
        try:
            expected = self.sign(file_id)
        except ValueError:
            return False
        return hmac.compare_digest(expected, sig)


# ---- .strm contents -----------------------------------------------------------------------


def normalise_public_url(public_url: str) -> str:
    """``public_url`` without trailing slashes; ConfigError unless it is an http(s) URL with a
    host and no query or fragment."""
    shown = repr(public_url)
    if not isinstance(public_url, str) or any(ch.isspace() or ord(ch) < 32 for ch in public_url):
        raise ConfigError(f"server.public_url must be an http(s) URL, not {shown}")
    parts = urlsplit(public_url)
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as err:
        raise ConfigError(f"server.public_url has a bad port: {shown}") from err
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"server.public_url must be an http(s) URL with a host, like "
            f"http://192.168.1.10:9091, not {shown}"
        )
    if parts.query or parts.fragment or public_url.rstrip("/").endswith(("?", "#")):
        raise ConfigError(f"server.public_url must not have a query or fragment: {shown}")
    return urlunsplit((parts.scheme.lower(), parts.netloc, parts.path.rstrip("/"), "", ""))


class StrmLinks:
    """What a .strm holds for a file, by links mode (see LINK_MODES).

    ``text()`` ends with a newline: media servers strip it and POSIX tools expect it.
    """

    def __init__(
        self,
        signer: LinkSigner,
        public_url: str,
        *,
        direct_url: Callable[[int, str], str] | None = None,
    ) -> None:
        self.signer = signer
        self.public_url = normalise_public_url(public_url)
        self._direct_url = direct_url
        self._warn_lock = threading.Lock()
        self._warned_direct = False

    def __repr__(self) -> str:
        return f"StrmLinks(public_url={self.public_url!r})"

    def url(self, file: File, mode: str) -> str:
        """The URL a .strm holds for ``file`` in links ``mode``."""
        if mode == "direct":
            return self._direct(file)
        sig = self.signer.sign(file.id)
        if mode == "hls":
            return f"{self.public_url}/stream/{file.id}/{sig}/{HLS_NAME}"
        name = quote(file.name, safe="") or "video"
        if mode == "bridge":
            if name == HLS_NAME:  # that name is the HLS route; keep the file's bytes
                name = "_" + name
            return f"{self.public_url}/stream/{file.id}/{sig}/{name}"
        if mode == "proxy":
            return f"{self.public_url}/proxy/{file.id}/{sig}/{name}"
        raise ConfigError(f"library.links must be one of {', '.join(LINK_MODES)}, not {mode!r}")

    def text(self, file: File, mode: str) -> str:
        """The whole .strm file: the URL and a newline."""
        return self.url(file, mode) + "\n"

    def _direct(self, file: File) -> str:
        if self._direct_url is None:
            raise ValueError("links mode 'direct' needs StrmLinks(direct_url=...)")
        with self._warn_lock:
            first, self._warned_direct = not self._warned_direct, True
        if first:
            log.warning(
                "links = direct: the put.io token is written into every .strm file, so every "
                "client of the media server (and anyone who can read the library) gets full "
                "access to the put.io account; use links = bridge unless you need direct"
            )
        return self._direct_url(file.id, file.name)


# ---- fresh put.io URLs --------------------------------------------------------------------


class StreamUrlCache:
    """Fresh put.io storage URLs by file id, fetched once per ``ttl`` and shared.

    Concurrent ``get``s of one id wait for a single fetch; a failed fetch is not cached (each
    waiter of that fetch sees its error). Least recently used entries go beyond
    ``max_entries``. Thread-safe.
    """

    def __init__(
        self,
        fetch: Callable[[int], str],
        *,
        ttl: float = 900.0,
        max_entries: int = 10_000,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        if not ttl > 0 or max_entries < 1:
            raise ValueError("ttl must be > 0 and max_entries >= 1")
        self._fetch = fetch
        self.ttl = ttl
        self.max_entries = max_entries
        self._now = now
        self._lock = threading.Lock()
        self._entries: OrderedDict[int, tuple[str, float]] = OrderedDict()
        self._pending: dict[int, Future[str]] = {}
        self.fetch_count = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get(self, file_id: int) -> str:
        """A put.io URL for the file's bytes, fetched unless a fresh one is cached."""
        with self._lock:
            entry = self._entries.get(file_id)
            if entry is not None:
                url, fetched_at = entry
                if self._now() - fetched_at < self.ttl:
                    self._entries.move_to_end(file_id)
                    return url
                del self._entries[file_id]
            pending = self._pending.get(file_id)
            owner = pending is None
            if pending is None:
                pending = self._pending[file_id] = Future()
                self.fetch_count += 1
        if not owner:
            return pending.result()
        # The age counts from before the request: the URL may have been minted any time during it.
        started = self._now()
        try:
            url = self._fetch(file_id)
        except BaseException as err:
            with self._lock:
                del self._pending[file_id]
            pending.set_exception(err)
            raise
        with self._lock:
            del self._pending[file_id]
            self._entries[file_id] = (url, started)
            self._entries.move_to_end(file_id)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        pending.set_result(url)
        return url

    def invalidate(self, file_id: int, url: str | None = None) -> None:
        """Forget the cached URL of ``file_id`` (only if it is ``url``, when given: a caller
        that saw an old URL fail must not drop the fresh one another caller just fetched)."""
        with self._lock:
            entry = self._entries.get(file_id)
            if entry is not None and (url is None or entry[0] == url):
                del self._entries[file_id]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
