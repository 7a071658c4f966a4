"""What can be sent to put.io, and how a dropped file, a posted link or an uploaded .torrent
becomes one: a ``Source`` with a dedupe key.

Pure functions, no network. Everything unacceptable raises ``IntakeError`` with a sentence a
person understands; ``read_drop`` puts the file's name in front of it.

The key is ``btih:<40 lowercase hex>`` for torrents and magnets, so the same torrent arriving as
a .torrent, a hex magnet or a base32 magnet dedupes to one transfer, and ``url:<normalized>`` for
http(s) URLs. A .torrent's hash is the SHA-1 of the raw bytes of its info dictionary, as
BitTorrent clients (and put.io) compute it; torf re-encodes the dictionary, which differs for a
torrent whose keys are out of order.
"""

from __future__ import annotations

import base64
import codecs
import hashlib
import os
import re
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

import torf

from putbridge.errors import IntakeError

MAX_TORRENT_BYTES = 10 * 1024 * 1024
DROP_SUFFIXES = (".torrent", ".magnet", ".txt", ".url")

MAX_LINK_CHARS = 64 * 1024  # a magnet with hundreds of trackers is ~20 kB
_MAX_NAME_CHARS = 255
_MAX_DEPTH = 100  # real torrents nest < 10 deep; torf's decoder recurses and would crash
_HEX40 = re.compile(r"[0-9a-fA-F]{40}")
_BASE32 = re.compile(r"[A-Za-z2-7]{32}")
_XT_KEY = re.compile(r"xt(\.\d+)?", re.IGNORECASE)
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_LINK_START = re.compile(r"(magnet:|https?://)", re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Source:
    """One thing to send to put.io."""

    kind: str  # "torrent" | "magnet" | "url"
    key: str  # dedupe key: "btih:<40 lowercase hex>" or "url:<normalized url>"
    name: str  # display only (may hold "/"): torrent name, magnet dn, else the hash / URL part
    url: str | None  # the magnet URI or http(s) URL as given (stripped); None for a torrent
    data: bytes | None = field(default=None, repr=False)  # the .torrent bytes
    filename: str | None = None  # the .torrent's file name for files/upload: one safe component


class _TorfTorrent(torf.Torrent):
    # torf refuses (or silently truncates) anything over 10e6 bytes; our limit is 10 MiB
    MAX_TORRENT_FILE_SIZE = MAX_TORRENT_BYTES


# ---- links ----------------------------------------------------------------------------------


def parse_link(text: str) -> Source:
    """A magnet URI or an http(s) URL, from the API, the CLI or a drop file.

    Surrounding whitespace and a byte-order mark are ignored; whitespace or control characters
    inside the link are refused (a line break there usually means two links or a wrapped one).
    """
    if not isinstance(text, str):
        raise IntakeError("a link must be text")
    link = text.strip().lstrip("\ufeff").strip()
    if not link:
        raise IntakeError("the link is empty")
    if len(link) > MAX_LINK_CHARS:
        raise IntakeError(f"the link is {len(link):,} characters long; the limit is 65,536")
    for char in link:
        if char.isspace() or unicodedata.category(char) in ("Cc", "Cf"):
            raise IntakeError(f"the link contains {_describe_char(char)}; a link is one line")
    match = _SCHEME.match(link)
    scheme = match.group(1).lower() if match else ""
    if scheme == "magnet":
        return _parse_magnet(link)
    if scheme in _DEFAULT_PORTS:
        key = "url:" + normalize_url(link)
        parts = urlsplit(link)
        last = unquote(parts.path.rstrip("/").rpartition("/")[2])
        name = _clean_name(last) or parts.hostname or link
        return Source(kind="url", key=key, name=name, url=link)
    if scheme:
        raise IntakeError(
            f"'{_clip(scheme, 20)}:' links are not accepted; only magnet links and http(s) URLs are"
        )
    raise IntakeError(
        f"{_clip(link)!r} is not a link; expected a magnet link (magnet:?xt=urn:btih:...) "
        "or an http(s) URL"
    )


def normalize_url(url: str) -> str:
    """An http(s) URL with scheme and host in lower case, no default port, no #fragment, and
    "/" for an empty path. User info, path and query are kept as they are."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # raises ValueError for a port that is not a number or out of range
    except ValueError as err:
        raise IntakeError("the URL's host or port is malformed") from err
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise IntakeError("only http:// and https:// URLs are accepted")
    host = parts.hostname  # already lower case, IPv6 brackets removed
    if not host:
        raise IntakeError("the URL has no host name")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at:
        netloc = f"{userinfo}@{netloc}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _parse_magnet(link: str) -> Source:
    if not link[len("magnet:") :].startswith("?"):
        raise IntakeError("a magnet link must start with 'magnet:?'")
    pairs = parse_qsl(link[len("magnet:?") :], keep_blank_values=True)
    topics = [value.strip() for key, value in pairs if _XT_KEY.fullmatch(key)]
    btih = next((t for t in topics if t.lower().startswith("urn:btih:")), None)
    if btih is None:
        if any(t.lower().startswith("urn:btmh:") for t in topics):
            raise IntakeError(
                "the magnet link has only a BitTorrent v2 info-hash (urn:btmh); "
                "a v1 info-hash (xt=urn:btih:...) is needed"
            )
        kinds = sorted({_clip(t.rpartition(":")[0], 30) for t in topics if ":" in t})
        if kinds:
            raise IntakeError(
                f"the magnet link is not a BitTorrent one: it has {', '.join(kinds)} but no "
                "xt=urn:btih: info-hash"
            )
        raise IntakeError("the magnet link has no info-hash (xt=urn:btih:...)")
    infohash = _btih_hex(btih[len("urn:btih:") :])
    dn = next((value for key, value in pairs if key.lower() == "dn"), "")
    return Source(
        kind="magnet",
        key=f"btih:{infohash}",
        name=_clean_name(dn) or infohash,
        url=link,
    )


def _btih_hex(value: str) -> str:
    """40 lowercase hex digits from a btih written as 40 hex or 32 base32 characters."""
    if _HEX40.fullmatch(value):
        return value.lower()
    if _BASE32.fullmatch(value):
        return base64.b32decode(value.upper()).hex()
    if len(value) == 40:
        problem = "has characters that are not hex digits"
    elif len(value) == 32:
        problem = "has characters that are not base32 (A-Z, 2-7)"
    else:
        problem = f"is {len(value)} characters long"
    raise IntakeError(
        f"the magnet link's info-hash {_clip(value)!r} {problem}; "
        "it must be 40 hex digits or 32 base32 characters"
    )


# ---- .torrent data ----------------------------------------------------------------------------


def parse_torrent(data: bytes, filename: str = "upload.torrent") -> Source:
    """A .torrent's bytes, checked by torf: a bencoded dictionary with a valid info dictionary.

    ``filename`` (of an upload or a drop) becomes a safe file name ending in ".torrent".
    """
    if not isinstance(data, bytes | bytearray):
        raise IntakeError("a .torrent must be bytes")
    data = bytes(data)
    if not data:
        raise IntakeError("the .torrent is empty")
    if len(data) > MAX_TORRENT_BYTES:
        raise IntakeError(f"the .torrent {_too_big(len(data))}")
    start, end = _info_span(data)
    info = data[start:end]
    try:
        torrent = _TorfTorrent.read_stream(data, validate=True)
        name = torrent.name
    except torf.TorfError as err:
        raise IntakeError(_torf_problem(err, info)) from err
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError) as err:
        # torf is not hardened against every odd value type; whatever it trips on is bad input
        raise IntakeError(f"this is not a valid .torrent file ({type(err).__name__})") from err
    infohash = hashlib.sha1(info).hexdigest()
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    return Source(
        kind="torrent",
        key=f"btih:{infohash}",
        name=_clean_name(str(name or "")) or infohash,
        url=None,
        data=data,
        filename=_safe_filename(filename),
    )


def _info_span(data: bytes) -> tuple[int, int]:
    """Check that ``data`` is exactly one well-formed bencoded dictionary, and return where its
    top-level "info" value lies. Iterative, and checks every string length against what is
    left: torf's decoder allocates whatever length a string claims (a 20-byte file can ask for
    gigabytes) and recurses on nesting."""
    if data[:1] != b"d":
        head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:16].lower()
        if head.startswith(b"magnet:"):
            raise IntakeError("this holds a magnet link as text, not a .torrent; send it as a link")
        if head.startswith(b"<"):
            raise IntakeError("this is a web page (HTML), not a .torrent; the download failed?")
        raise IntakeError("this is not a .torrent file (it is not bencoded data)")
    size, pos = len(data), 0
    stack: list[bool] = []  # per open container: is it a dictionary?
    expect_key: list[bool] = []  # per open container: is the next item a dictionary key?
    starts: list[int] = []
    top_key: bytes | None = None
    span: tuple[int, int] | None = None
    while True:
        if pos >= size:
            raise _damaged("cut short (truncated)")
        char, value_start = data[pos], pos
        in_key = bool(stack) and stack[-1] and expect_key[-1]
        if in_key and char in b"dlie":
            if char != ord("e"):
                raise _damaged("damaged (a dictionary key is not text)")
        elif char in b"dl":
            if len(stack) >= _MAX_DEPTH:
                raise _damaged("nested too deeply to be real")
            stack.append(char == ord("d"))
            expect_key.append(True)
            starts.append(pos)
            pos += 1
            continue
        if char == ord("e"):
            if not stack or (stack[-1] and not expect_key[-1]):
                raise _damaged("damaged (an unexpected end marker)")
            del stack[-1], expect_key[-1]
            value_start, in_key = starts.pop(), False
            pos += 1
        elif char == ord("i"):
            end = data.find(b"e", pos, pos + 64)
            if end < 0 or not re.fullmatch(rb"-?\d+", data[pos + 1 : end]):
                raise _damaged("damaged (a malformed number)")
            pos = end + 1
        else:
            colon = data.find(b":", pos, pos + 12)
            if colon < 0 or not data[pos:colon].isdigit():
                raise _damaged("damaged (not bencoded data)")
            pos = colon + 1 + int(data[pos:colon])
            if pos > size:
                raise _damaged("cut short (truncated)")
            if in_key and len(stack) == 1:
                top_key = data[colon + 1 : pos]
        # a value (a scalar, or a container just closed) ends at pos
        if not stack:
            if pos != size:
                raise _damaged("followed by extra data after its end")
            break
        if stack[-1]:
            if not in_key and len(stack) == 1 and top_key == b"info":
                span = (value_start, pos)
            expect_key[-1] = not expect_key[-1]
    if span is None:
        raise IntakeError("this .torrent has no 'info' dictionary (the part naming its files)")
    if data[span[0]] != ord("d"):
        raise IntakeError("this .torrent's 'info' entry is not a dictionary")
    return span


def _damaged(what: str) -> IntakeError:
    return IntakeError(f"this .torrent is {what}")


def _torf_problem(err: Exception, info: bytes) -> str:
    if b"12:meta versioni2e" in info and b"6:pieces" not in info:
        return "this is a BitTorrent v2-only torrent; only v1 and hybrid torrents are accepted"
    text = str(err).removeprefix("Invalid metainfo: ").removeprefix("Invalid metainfo")
    missing = re.fullmatch(r"Missing '([^']+)' in \['info'\]", text)
    if missing:
        return f"this .torrent's info dictionary has no '{missing.group(1)}' entry"
    return f"this is not a valid .torrent file: {text}" if text else "this is not a .torrent file"


# ---- drop files -------------------------------------------------------------------------------


def read_drop(path: Path) -> Source:
    """A file from a blackhole folder, by its extension (case-insensitive):

    - ``.torrent``: a .torrent; lenient: a magnet link saved as text in a .torrent file (a common
      mistake) is taken as that magnet.
    - ``.magnet``: one magnet link (Sonarr/Radarr write it with no newline) or http(s) URL.
    - ``.txt``: the first line that is a magnet link or http(s) URL; other lines are ignored.
    - ``.url``: a Windows internet shortcut (``[InternetShortcut]`` / ``URL=...``) or a bare link.

    Only a regular file is read: a symbolic link, folder or device is refused. Size is checked
    before reading. Text is UTF-8 (with or without BOM) or UTF-16 with a BOM. The IntakeError
    begins with the file's name.
    """
    path = Path(path)
    shown = _show(path.name)
    suffix = next((s for s in DROP_SUFFIXES if path.name.lower().endswith(s)), None)
    if suffix is None:
        kind = f"a {_clip(path.suffix, 20)} file" if path.suffix else "a file without extension"
        raise IntakeError(
            f"{shown}: putbridge does not take {kind}; drop a .torrent, .magnet, .txt or .url file"
        )
    data = _read_regular(path, shown)
    try:
        if suffix == ".torrent":
            head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:7].lower()
            if head == b"magnet:":
                return parse_link(_decode(data))
            return parse_torrent(data, path.name)
        text = _decode(data)
        if not text.strip().lstrip("\ufeff").strip():
            raise IntakeError("the file is blank: it holds no link")
        if suffix == ".txt":
            return parse_link(_first_link(text))
        if suffix == ".url":
            return parse_link(_shortcut_link(text))
        return parse_link(text)
    except IntakeError as err:
        raise IntakeError(f"{shown}: {err}") from err


def _read_regular(path: Path, shown: str) -> bytes:
    # O_NOFOLLOW / O_NONBLOCK: a symlink or a pipe swapped in after the lstat fails at once
    # instead of being followed or blocking
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            raise IntakeError(f"{shown} is a symbolic link; a drop must be the file itself")
        if stat.S_ISDIR(info.st_mode):
            raise IntakeError(f"{shown} is a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise IntakeError(f"{shown} is not a regular file (a pipe, socket or device)")
        if info.st_size > MAX_TORRENT_BYTES:  # before reading a byte of it
            raise IntakeError(f"{shown} {_too_big(info.st_size)}")
        with open(os.open(path, flags | getattr(os, "O_BINARY", 0)), "rb") as handle:
            opened = os.fstat(handle.fileno())
            if (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino):
                raise IntakeError(f"{shown} was replaced while being read")
            data = handle.read(MAX_TORRENT_BYTES + 1)
    except FileNotFoundError as err:
        raise IntakeError(f"{shown} is gone (moved or deleted before it was read)") from err
    except PermissionError as err:
        raise IntakeError(f"{shown} cannot be read: permission denied") from err
    except OSError as err:
        raise IntakeError(f"{shown} cannot be read: {err.strerror or err}") from err
    if len(data) > MAX_TORRENT_BYTES:  # it grew after the lstat
        raise IntakeError(f"{shown} {_too_big(len(data))}")
    if not data:
        raise IntakeError(f"{shown} is empty")
    return data


def _decode(data: bytes) -> str:
    # Notepad may save UTF-16 with a BOM; everything else we accept is UTF-8
    utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    try:
        return data.decode("utf-16" if utf16 else "utf-8-sig")
    except UnicodeDecodeError as err:
        encoding = "UTF-16" if utf16 else "UTF-8"
        raise IntakeError(
            f"the file is not {encoding} text (an undecodable byte at offset {err.start})"
        ) from err


def _first_link(text: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("\ufeff")
        if _LINK_START.match(line):
            return line
    raise IntakeError("it holds no magnet link or http(s) URL")


def _shortcut_link(text: str) -> str:
    section = None
    for line in map(str.strip, text.splitlines()):
        key, equals, value = line.partition("=")
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip().lower()
        elif section == "internetshortcut" and equals and key.strip().lower() == "url":
            return value
    if section is None:
        return text  # no [section] at all: a bare link in a .url file
    raise IntakeError("it is an internet shortcut without a URL= line under [InternetShortcut]")


# ---- small helpers ----------------------------------------------------------------------------


def _clean_name(text: str) -> str:
    """A display name: control and line-break characters become spaces, invisible format
    characters (bidi overrides, zero-width) go, runs of spaces collapse; at most 255 characters."""
    categories = [(char, unicodedata.category(char)) for char in text]
    kept = (" " if cat in ("Cc", "Zl", "Zp") else char for char, cat in categories if cat != "Cf")
    name = " ".join("".join(kept).split())
    return name if len(name) <= _MAX_NAME_CHARS else name[: _MAX_NAME_CHARS - 1] + "…"


def _safe_filename(filename: str) -> str:
    """One harmless file-name component ending in ".torrent" (lower case: put.io tells a
    .torrent upload from other files by its name)."""
    base = _clean_name(re.split(r"[/\\]", str(filename))[-1])
    stem = base[: -len(".torrent")] if base.lower().endswith(".torrent") else base
    while len(stem.encode("utf-8")) > 240:  # 255 bytes with the suffix, on any file system
        stem = stem[:-1]
    stem = stem.strip(". ")  # no hidden file, no "..", no trailing dot (Windows drops it)
    return f"{stem or 'upload'}.torrent"


def _too_big(size: int) -> str:
    return f"is too big ({size:,} bytes); the limit is {MAX_TORRENT_BYTES:,} bytes (10 MB)"


def _describe_char(char: str) -> str:
    names = {"\n": "a line break", "\r": "a line break", "\t": "a tab", " ": "a space"}
    return names.get(char, f"the invisible character U+{ord(char):04X}")


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _show(name: str) -> str:
    """A file name for a message: as is when printable, else escaped (no line breaks in logs)."""
    return name if name.isprintable() and name.strip() == name else repr(name)
