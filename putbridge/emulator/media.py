"""File bytes: the tiny real sample media, deterministic generated content, types and checksums.

A video is the real 2-second sample (MP4, or MKV for .mkv/.webm) followed by zero padding up to
its size; other files repeat a short line of text (or a real SRT / JPEG). Bytes are produced
lazily per range, and CRC32 / OpenSubtitles hashes are cached per (content kind, size), so a
hundred thousand files of the same kind cost one computation and no memory.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .checksums import (
    OSHASH_BLOCK,
    crc32_repeat,
    crc32_zero_extend,
    format_crc32,
    format_oshash,
    opensubtitles_hash,
    word_sum,
)

MEDIA_DIR = Path(__file__).with_name("media")
CHUNK = 256 * 1024
_ZEROS = bytes(CHUNK)

SAMPLE_DURATION = 2.0
SAMPLE_WIDTH = 160
SAMPLE_HEIGHT = 90

VIDEO_EXTENSIONS = frozenset("mkv mp4 avi m4v mov webm ts wmv mpg mpeg m2ts flv".split())
_FILE_TYPES = {
    **{ext: "VIDEO" for ext in VIDEO_EXTENSIONS},
    **{ext: "TEXT" for ext in "srt txt nfo vtt ass ssa sub log md".split()},
    **{ext: "IMAGE" for ext in "jpg jpeg png gif webp".split()},
    **{ext: "ARCHIVE" for ext in "zip rar 7z tar gz".split()},
    **{ext: "AUDIO" for ext in "mp3 flac m4a ogg wav aac".split()},
    "pdf": "PDF",
    "swf": "SWF",
}
_CONTENT_TYPES = {
    "mkv": "video/x-matroska",
    "mp4": "video/mp4",
    "m4v": "video/x-m4v",
    "avi": "video/x-msvideo",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "ts": "video/mp2t",
    "m2ts": "video/mp2t",
    "wmv": "video/x-ms-wmv",
    "mpg": "video/mpeg",
    "mpeg": "video/mpeg",
    "flv": "video/x-flv",
    "srt": "application/x-subrip",
    "vtt": "text/vtt",
    "txt": "text/plain",
    "nfo": "text/plain",
    "log": "text/plain",
    "md": "text/markdown",
    "ass": "text/x-ssa",
    "ssa": "text/x-ssa",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "zip": "application/zip",
    "rar": "application/x-rar-compressed",
    "7z": "application/x-7z-compressed",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "m4a": "audio/mp4",
    "ogg": "audio/ogg",
    "wav": "audio/wav",
    "pdf": "application/pdf",
    "torrent": "application/x-bittorrent",
}
FILE_TYPES = ("FOLDER", "FILE", "AUDIO", "VIDEO", "IMAGE", "ARCHIVE", "PDF", "TEXT", "SWF")
FOLDER_CONTENT_TYPE = "application/x-directory"


def extension_of(name: str) -> str | None:
    """The lower-case extension without the dot, or None."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or not ext or " " in ext or len(ext) > 10:
        return None
    return ext.lower()


def guess_file_type(name: str) -> str:
    return _FILE_TYPES.get(extension_of(name) or "", "FILE")


def guess_content_type(name: str) -> str:
    return _CONTENT_TYPES.get(extension_of(name) or "", "application/octet-stream")


@functools.cache
def asset(name: str) -> bytes:
    """A committed media file (sample.mp4, sample.mkv, seg0.ts, screenshot.jpg, ...)."""
    return (MEDIA_DIR / name).read_bytes()


def hls_segments() -> list[tuple[str, float]]:
    """(segment file name, duration) from the committed ffmpeg-made playlist."""
    segments: list[tuple[str, float]] = []
    duration = 0.0
    for line in asset("sample.m3u8").decode().splitlines():
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",")[0])
        elif line and not line.startswith("#"):
            segments.append((line.strip(), duration))
    return segments


def sample_srt(title: str = "putbridge emulator") -> bytes:
    """A real two-cue SRT covering the sample's two seconds."""
    return (
        f"1\n00:00:00,000 --> 00:00:01,000\n{title}\n\n"
        "2\n00:00:01,000 --> 00:00:02,000\nThis is an emulated subtitle.\n\n"
    ).encode()


def srt_to_webvtt(srt: str) -> str:
    lines = ["WEBVTT", ""]
    for line in srt.replace("\r\n", "\n").split("\n"):
        if "-->" in line:
            line = line.replace(",", ".")
        lines.append(line)
    return "\n".join(lines).rstrip("\n") + "\n"


# ---- content -------------------------------------------------------------------------------


class Content:
    """The bytes of one file: a size, lazy range reads and cached checksums."""

    size: int

    def read(self, start: int = 0, stop: int | None = None) -> bytes:
        """Bytes [start, stop); keep ranges small, this builds one bytes object."""
        stop = self.size if stop is None else min(stop, self.size)
        return b"".join(self.iter_bytes(start, stop))

    def iter_bytes(self, start: int, stop: int, chunk: int = CHUNK) -> Iterator[bytes]:
        raise NotImplementedError

    @property
    def crc32(self) -> str:
        raise NotImplementedError

    @property
    def opensubtitles_hash(self) -> str:
        return _compute_oshash(self)


class BytesContent(Content):
    """Explicit bytes (uploads, fetched URLs, seeded content)."""

    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)
        self.size = len(self.data)
        self._crc: str | None = None
        self._oshash: str | None = None

    def iter_bytes(self, start: int, stop: int, chunk: int = CHUNK) -> Iterator[bytes]:
        view = memoryview(self.data)
        for pos in range(start, min(stop, self.size), chunk):
            yield bytes(view[pos : min(pos + chunk, stop)])

    @property
    def crc32(self) -> str:
        if self._crc is None:
            self._crc = format_crc32(zlib.crc32(self.data))
        return self._crc

    @property
    def opensubtitles_hash(self) -> str:
        if self._oshash is None:
            self._oshash = _compute_oshash(self)
        return self._oshash


@dataclass(frozen=True, eq=False)
class PaddedContent(Content):
    """A committed asset followed by zero bytes up to `size` (cut if `size` is smaller)."""

    asset_name: str
    size: int

    def iter_bytes(self, start: int, stop: int, chunk: int = CHUNK) -> Iterator[bytes]:
        prefix = asset(self.asset_name)
        stop = min(stop, self.size)
        pos = start
        while pos < stop:
            end = min(pos + chunk, stop)
            if pos < len(prefix):
                end = min(end, len(prefix))
                yield prefix[pos:end]
            else:
                yield _ZEROS[: end - pos]
            pos = end

    @property
    def crc32(self) -> str:
        return _padded_crc(self.asset_name, self.size)

    @property
    def opensubtitles_hash(self) -> str:
        return _padded_oshash(self.asset_name, self.size)


@dataclass(frozen=True, eq=False)
class RepeatContent(Content):
    """A short unit (a line of text, an SRT) repeated and cut to `size` bytes."""

    unit: bytes
    size: int

    def iter_bytes(self, start: int, stop: int, chunk: int = CHUNK) -> Iterator[bytes]:
        stop = min(stop, self.size)
        block = _repeat_block(self.unit)
        unit_len = len(self.unit)
        pos = start
        while pos < stop:
            offset = pos % unit_len
            take = min(stop - pos, len(block) - offset)
            yield block[offset : offset + take]
            pos += take

    @property
    def crc32(self) -> str:
        return _repeat_crc(self.unit, self.size)

    @property
    def opensubtitles_hash(self) -> str:
        return _repeat_oshash(self.unit, self.size)


def _compute_oshash(content: Content) -> str:
    head = content.read(0, min(OSHASH_BLOCK, content.size))
    tail = content.read(max(0, content.size - OSHASH_BLOCK), content.size)
    return opensubtitles_hash(content.size, head, tail)


@functools.lru_cache(maxsize=64)
def _repeat_block(unit: bytes) -> bytes:
    return unit * (CHUNK // len(unit) + 2)


@functools.cache
def _asset_crc(asset_name: str) -> int:
    return zlib.crc32(asset(asset_name))


@functools.lru_cache(maxsize=1 << 17)
def _padded_crc(asset_name: str, size: int) -> str:
    prefix = asset(asset_name)
    if size <= len(prefix):
        return format_crc32(zlib.crc32(prefix[:size]))
    return format_crc32(crc32_zero_extend(_asset_crc(asset_name), size - len(prefix)))


@functools.lru_cache(maxsize=256)
def _prefix_word_sum(asset_name: str, length: int) -> int:
    return word_sum(asset(asset_name)[:length])


@functools.lru_cache(maxsize=1 << 17)
def _padded_oshash(asset_name: str, size: int) -> str:
    # The zero padding adds nothing to the word sums: only the asset's own bytes count.
    prefix_len = len(asset(asset_name))
    head_sum = _prefix_word_sum(asset_name, min(size, OSHASH_BLOCK, prefix_len))
    tail_start = max(0, size - OSHASH_BLOCK)
    tail_sum = 0
    if tail_start < prefix_len:
        tail_sum = word_sum(PaddedContent(asset_name, size).read(tail_start, size))
    return format_oshash(size, head_sum, tail_sum)


@functools.lru_cache(maxsize=1 << 16)
def _repeat_crc(unit: bytes, size: int) -> str:
    return format_crc32(crc32_repeat(unit, size))


@functools.lru_cache(maxsize=1 << 12)
def _repeat_oshash(unit: bytes, size: int) -> str:
    return _compute_oshash(RepeatContent(unit, size))


DEFAULT_FILE_SIZE = 1024


def video_asset_for(name: str) -> str:
    return "sample.mkv" if extension_of(name) in ("mkv", "webm") else "sample.mp4"


def generate_content(name: str, size: int | None = None) -> Content:
    """Deterministic content for a file called `name` (bytes depend on its kind and size only)."""
    if size is not None and size < 0:
        raise ValueError("size must be >= 0")
    ext = extension_of(name) or ""
    kind = _FILE_TYPES.get(ext, "FILE")
    if kind == "VIDEO":
        asset_name = video_asset_for(name)
    elif ext in ("jpg", "jpeg", "png"):
        asset_name = "icon.png" if ext == "png" else "screenshot.jpg"
    else:
        if ext == "srt":
            unit = sample_srt()
            default = len(unit)
        else:
            unit = f"putbridge emulator: generated .{ext or 'bin'} content\n".encode()
            default = DEFAULT_FILE_SIZE
        return RepeatContent(unit, default if size is None else size)
    return PaddedContent(asset_name, len(asset(asset_name)) if size is None else size)
