"""Typed, frozen views of what put.io sends: File, Transfer, Subtitle, Event, OobCode.

Each ``from_api`` reads only the fields putbridge uses and ignores the rest, and raises
``PutioError`` naming the model, the field and the value when put.io sends something malformed:
a bad answer fails loudly at the edge instead of as a wrong file name or a NaN deep inside
planning. Values are never coerced into something they are not (``True`` is not an id, ``"12"``
is not a size).
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Self

from putbridge.errors import PutioError
from putbridge.logs import redact

FILE_TYPES = frozenset(
    {"FOLDER", "FILE", "AUDIO", "VIDEO", "IMAGE", "ARCHIVE", "PDF", "TEXT", "SWF"}
)
TRANSFER_STATUSES = frozenset(
    {
        "WAITING",
        "PREPARING_DOWNLOAD",
        "IN_QUEUE",
        "DOWNLOADING",
        "WAITING_FOR_COMPLETE_QUEUE",
        "WAITING_FOR_DOWNLOADER",
        "COMPLETING",
        "STOPPING",
        "SEEDING",
        "COMPLETED",
        "ERROR",
        "PREPARING_SEED",
    }
)
TRANSFER_TYPES = frozenset({"URL", "TORRENT", "PLAYLIST", "LIVE_STREAM", "N/A"})
FINISHED_STATUSES = frozenset({"COMPLETED", "SEEDING"})
TERMINAL_STATUSES = FINISHED_STATUSES | {"ERROR"}
# put.io files some videos as plain FILE (unusual containers); these are worth a .strm anyway.
VIDEO_EXTENSIONS = frozenset(
    {
        "3gp", "asf", "avi", "divx", "flv", "m2ts", "m4v", "mkv", "mov", "mp4", "mpeg",
        "mpg", "mts", "ogm", "ogv", "rm", "rmvb", "ts", "vob", "webm", "wmv",
    }
)  # fmt: skip

_REQUIRED: Any = object()
_SHOWN_CHARS = 60
_CRC32 = re.compile(r"[0-9a-fA-F]{8}")
# put.io sends "2013-09-07T21:32:03" (no zone, UTC); events once used a space separator.
_TIMESTAMP = re.compile(
    r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?"
)


def _show(value: object) -> str:
    text = redact(repr(value))
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


class _Reader:
    """Reads typed fields out of one JSON object, naming the model in every complaint."""

    __slots__ = ("_data", "_model")

    def __init__(self, model: str, data: object) -> None:
        if not isinstance(data, Mapping):
            raise PutioError(f"put.io sent a {model} that is not a JSON object: {_show(data)}")
        self._model = model
        self._data = data

    def bad(self, key: str, value: object) -> PutioError:
        return PutioError(f"put.io sent a {self._model} with a bad {key!r}: {_show(value)}")

    def _get(self, key: str, default: Any, nullable: bool) -> tuple[Any, bool]:
        """(value, must_check): absent keys take the default, null is fine when nullable."""
        if key not in self._data:
            if default is _REQUIRED:
                raise PutioError(f"put.io sent a {self._model} without {key!r}")
            return default, False
        value = self._data[key]
        if value is None:
            if not nullable:
                raise self.bad(key, value)
            return None, False
        return value, True

    def integer(self, key: str, default: Any = _REQUIRED, *, nullable: bool = False) -> Any:
        value, check = self._get(key, default, nullable)
        if check and (isinstance(value, bool) or not isinstance(value, int)):
            raise self.bad(key, value)
        return value

    def count(self, key: str, default: Any = _REQUIRED, *, nullable: bool = False) -> Any:
        """A non-negative whole number; JSON may spell it 12.0, which is still 12."""
        value, check = self._get(key, default, nullable)
        if not check:
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.bad(key, value)
        return value

    def number(self, key: str, default: Any = None, *, nullable: bool = True) -> Any:
        """A finite, non-negative int or float, returned as float."""
        value, check = self._get(key, default, nullable)
        if not check:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.bad(key, value)
        if not math.isfinite(value) or value < 0:
            raise self.bad(key, value)
        return float(value)

    def ratio(self, key: str) -> float | None:
        """Like number(), but put.io has sent ``current_ratio`` as a numeric string."""
        value = self._data.get(key)
        if isinstance(value, str):
            try:
                parsed = float(value)
            except ValueError:
                raise self.bad(key, value) from None
            if not math.isfinite(parsed) or parsed < 0:
                raise self.bad(key, value)
            return parsed
        return self.number(key)

    def text(
        self, key: str, default: Any = _REQUIRED, *, nullable: bool = False, empty: bool = True
    ) -> Any:
        value, check = self._get(key, default, nullable)
        if check and (not isinstance(value, str) or (not empty and not value)):
            raise self.bad(key, value)
        return value

    def flag(self, key: str, default: Any = False, *, nullable: bool = False) -> Any:
        value, check = self._get(key, default, nullable)
        if check and not isinstance(value, bool):
            raise self.bad(key, value)
        return value

    def time(self, key: str, default: Any = None, *, nullable: bool = True) -> Any:
        value, check = self._get(key, default, nullable)
        if not check:
            return value
        parsed = parse_timestamp(value) if isinstance(value, str) else None
        if parsed is None:
            raise self.bad(key, value)
        return parsed


def _interned(value: str | None) -> str | None:
    return None if value is None else sys.intern(value)


def parse_timestamp(text: str) -> datetime | None:
    """A put.io timestamp as an aware UTC datetime, or None if it is not one."""
    if len(text) == 19 and text[10] == "T":  # put.io's usual form: the C parser, no regex
        try:
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        except ValueError:
            pass
    match = _TIMESTAMP.fullmatch(text.strip())
    if match is None:
        return None
    day, clock, fraction, zone = match.groups()
    fraction = (fraction or "")[:7]  # fromisoformat takes at most microseconds
    if zone and zone != "Z" and ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    try:
        parsed = datetime.fromisoformat(f"{day}T{clock}{fraction}{zone or ''}")
    except ValueError:
        return None  # e.g. month 13
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


_FILE_TEXT_OR_NULL = ("content_type", "crc32", "screenshot", "opensubtitles_hash", "extension")
_FILE_FLAGS = ("is_mp4_available", "is_shared", "is_hidden")


def _plain_file(cls: type, data: Mapping[str, Any]) -> Any:
    """The File for a well-formed put.io file, or None to let the checking reader decide.

    A full sync builds 100,000 of these: this path checks the same things with plain type
    tests. Anything unusual (a float size, a missing key, a bad value) goes the slow way, which
    also words the error.
    """
    if type(data) is not dict:
        return None
    get = data.get
    file_id, name, file_type = get("id"), get("name"), get("file_type")
    parent_id, size = get("parent_id"), get("size", 0)
    if type(file_id) is not int or type(name) is not str or type(file_type) is not str:
        return None
    if not file_type or (parent_id is not None and type(parent_id) is not int):
        return None
    if type(size) is not int or size < 0:
        return None
    for key in _FILE_TEXT_OR_NULL:
        value = get(key)
        if value is not None and type(value) is not str:
            return None
    for key in _FILE_FLAGS:
        if type(get(key, False)) is not bool:
            return None
    crc32 = get("crc32")
    if crc32 is not None:
        if not _CRC32.fullmatch(crc32):
            return None
        crc32 = crc32.lower()
    stamps = []
    for key in ("created_at", "updated_at"):
        value = get(key)
        if value is not None:
            value = parse_timestamp(value) if type(value) is str else None
            if value is None:
                return None
        stamps.append(value)
    return cls(
        id=file_id,
        name=name,
        file_type=sys.intern(file_type),
        parent_id=parent_id,
        content_type=_interned(get("content_type")),
        size=size,
        crc32=crc32,
        created_at=stamps[0],
        updated_at=stamps[1],
        is_mp4_available=get("is_mp4_available", False),
        screenshot=get("screenshot"),
        opensubtitles_hash=get("opensubtitles_hash"),
        extension=_interned(get("extension")),
        is_shared=get("is_shared", False),
        is_hidden=get("is_hidden", False),
    )


@dataclass(frozen=True, slots=True)
class File:
    """A put.io file or folder."""

    id: int
    name: str
    file_type: str
    parent_id: int | None = None
    content_type: str | None = None
    size: int = 0
    crc32: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    is_mp4_available: bool = False
    screenshot: str | None = None
    opensubtitles_hash: str | None = None
    extension: str | None = None
    is_shared: bool = False
    is_hidden: bool = False

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Self:
        fast = _plain_file(cls, data)
        if fast is not None:
            return fast
        r = _Reader("File", data)
        crc32 = r.text("crc32", None, nullable=True)
        if crc32 is not None:
            if not _CRC32.fullmatch(crc32):
                raise r.bad("crc32", crc32)
            crc32 = crc32.lower()
        return cls(
            id=r.integer("id"),
            name=r.text("name"),
            # A few distinct values shared by every file: one string each, not one per file
            # (a 100,000-file listing holds them all at once).
            file_type=sys.intern(r.text("file_type", empty=False)),
            parent_id=r.integer("parent_id", None, nullable=True),
            content_type=_interned(r.text("content_type", None, nullable=True)),
            size=r.count("size", 0),
            crc32=crc32,
            created_at=r.time("created_at"),
            updated_at=r.time("updated_at"),
            is_mp4_available=r.flag("is_mp4_available"),
            screenshot=r.text("screenshot", None, nullable=True),
            opensubtitles_hash=r.text("opensubtitles_hash", None, nullable=True),
            extension=_interned(r.text("extension", None, nullable=True)),
            is_shared=r.flag("is_shared"),
            is_hidden=r.flag("is_hidden"),
        )

    @property
    def is_folder(self) -> bool:
        return self.file_type == "FOLDER"

    @property
    def suffix(self) -> str:
        """The extension without a dot, lower-cased; put.io sends both "avi" and ".mp4"."""
        ext = self.extension
        if not ext:
            _, dot, ext = self.name.rpartition(".")
            if not dot:
                return ""
        return ext.lstrip(".").lower()

    @property
    def is_video(self) -> bool:
        if self.file_type == "VIDEO":
            return True
        return self.file_type == "FILE" and self.suffix in VIDEO_EXTENSIONS


@dataclass(frozen=True, slots=True)
class Transfer:
    """A put.io transfer (a torrent or URL being fetched into the account)."""

    id: int
    name: str
    # A fresh transfers/add or upload answer may omit the status; put.io starts every transfer
    # WAITING, and callers poll get_transfer() for the real state anyway.
    status: str = "WAITING"
    hash: str | None = None
    type: str | None = None
    source: str | None = None
    save_parent_id: int | None = None
    file_id: int | None = None
    size: int | None = None
    downloaded: int | None = None
    percent_done: float | None = None
    down_speed: float | None = None
    estimated_time: float | None = None
    current_ratio: float | None = None
    error_message: str | None = None
    status_message: str | None = None
    callback_url: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Self:
        r = _Reader("Transfer", data)
        return cls(
            id=r.integer("id"),
            name=r.text("name"),
            status=r.text("status", "WAITING", empty=False),
            hash=r.text("hash", None, nullable=True),
            type=r.text("type", None, nullable=True),
            source=r.text("source", None, nullable=True),
            save_parent_id=r.integer("save_parent_id", None, nullable=True),
            file_id=r.integer("file_id", None, nullable=True),
            size=r.count("size", None, nullable=True),
            downloaded=r.count("downloaded", None, nullable=True),
            percent_done=r.number("percent_done"),
            down_speed=r.number("down_speed"),
            estimated_time=r.number("estimated_time"),
            current_ratio=r.ratio("current_ratio"),
            error_message=r.text("error_message", None, nullable=True),
            status_message=r.text("status_message", None, nullable=True),
            callback_url=r.text("callback_url", None, nullable=True),
            created_at=r.time("created_at"),
            started_at=r.time("started_at"),
            finished_at=r.time("finished_at"),
        )

    @property
    def is_finished(self) -> bool:
        """Downloaded and its files are in the account."""
        return self.status in FINISHED_STATUSES and self.file_id is not None

    @property
    def is_terminal(self) -> bool:
        """Will not change without someone acting on it."""
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True, slots=True)
class Subtitle:
    """One subtitle put.io offers for a video."""

    key: str
    language: str | None = None
    language_code: str | None = None
    name: str | None = None
    source: str | None = None
    format: str | None = None
    url: str | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Self:
        r = _Reader("Subtitle", data)
        return cls(
            key=r.text("key", empty=False),
            language=r.text("language", None, nullable=True),
            language_code=r.text("language_code", None, nullable=True),
            name=r.text("name", None, nullable=True),
            source=r.text("source", None, nullable=True),
            format=r.text("format", None, nullable=True),
            url=r.text("url", None, nullable=True),
        )


_EVENT_BASE_KEYS = frozenset({"id", "type", "created_at"})


@dataclass(frozen=True, slots=True)
class Event:
    """An entry of the account's history; ``data`` holds the type-specific fields, read-only.

    Equality and hashing use id, type and created_at: ``data`` may hold lists and objects.
    """

    id: int
    type: str
    created_at: datetime | None = None
    data: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, hash=False
    )

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Self:
        r = _Reader("Event", data)
        rest = {key: value for key, value in data.items() if key not in _EVENT_BASE_KEYS}
        return cls(
            id=r.integer("id"),
            type=r.text("type", empty=False),
            created_at=r.time("created_at"),
            data=MappingProxyType(rest),
        )


@dataclass(frozen=True, slots=True)
class OobCode:
    """A device-link code the user enters at put.io/link."""

    code: str
    qr_code_url: str | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Self:
        r = _Reader("OobCode", data)
        return cls(
            code=r.text("code", empty=False),
            qr_code_url=r.text("qr_code_url", None, nullable=True),
        )
