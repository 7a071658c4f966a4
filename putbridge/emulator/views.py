"""Read-side helpers shared by the routes: selecting and sorting files, signed links, File JSON
with optional flag fields, and page bodies assembled from cached JSON fragments."""

from __future__ import annotations

import json
from urllib.parse import quote

from .emulator import Emulator
from .errors import ApiError
from .files import ROOT_ID, FileRecord
from .media import FILE_TYPES, SAMPLE_DURATION, SAMPLE_HEIGHT, SAMPLE_WIDTH

ALL_FILES = -1

_SORT_KEYS = {
    "NAME": lambda rec: (rec.name.casefold(), rec.id),
    "SIZE": lambda rec: (rec.size, rec.id),
    "DATE": lambda rec: (rec.created_at, rec.id),
    "MODIFIED": lambda rec: (rec.updated_at, rec.id),
    "TYPE": lambda rec: (rec.file_type, rec.name.casefold(), rec.id),
    "WATCH": lambda rec: (rec.created_at, rec.id),
}

FILE_FLAGS = (
    "stream_url",
    "mp4_stream_url",
    "mp4_status",
    "video_metadata",
    "media_metadata",
    "codecs",
    "media_info",
)


def parse_sort(sort_by: str | None):
    """(key function, reverse) or None for the default order (creation order)."""
    if not sort_by:
        return None
    field, _, direction = sort_by.upper().rpartition("_")
    if field not in _SORT_KEYS or direction not in ("ASC", "DESC"):
        raise ApiError(400, "INVALID_SORT_BY", f"Unknown sort_by {sort_by!r}")
    return _SORT_KEYS[field], direction == "DESC"


def parse_file_types(value: str | None) -> frozenset[str] | None:
    if not value:
        return None
    types = frozenset(part.strip().upper() for part in value.split(",") if part.strip())
    unknown = types - set(FILE_TYPES)
    if unknown:
        raise ApiError(400, "INVALID_FILE_TYPE", f"Unknown file_type {', '.join(sorted(unknown))}")
    return types or None


def _content_type_matcher(value: str | None):
    if not value:
        return None
    patterns = [part.strip().lower() for part in value.split(",") if part.strip()]

    def matches(content_type: str) -> bool:
        content_type = content_type.lower()
        for pattern in patterns:
            if pattern.endswith("/*") and content_type.startswith(pattern[:-1]):
                return True
            if content_type == pattern:
                return True
        return False

    return matches


def select_files(
    emu: Emulator,
    parent_id: int,
    sort_by: str | None = None,
    file_type: str | None = None,
    content_type: str | None = None,
) -> tuple[FileRecord | None, list[int]]:
    """The parent record (None for -1) and the ordered, filtered ids to list. Call under lock."""
    sort = parse_sort(sort_by)
    types = parse_file_types(file_type)
    matches = _content_type_matcher(content_type)
    tree = emu.tree
    if parent_id == ALL_FILES:
        parent = None
        ids = [file_id for file_id in tree.records if file_id != ROOT_ID]
    else:
        parent = tree.require(parent_id)
        ids = list(parent.children) if parent.children else []
    if types is not None or matches is not None:
        records = tree.records
        ids = [
            file_id
            for file_id in ids
            if (types is None or records[file_id].file_type in types)
            and (matches is None or matches(records[file_id].content_type))
        ]
    if sort is not None:
        key, reverse = sort
        records = tree.records
        ids.sort(key=lambda file_id: key(records[file_id]), reverse=reverse)
    return parent, ids


# ---- links -----------------------------------------------------------------------------------


def blob_url(emu: Emulator, rec: FileRecord, base: str) -> str:
    expires = emu.link_expiry()
    signature = emu.sign("blob", rec.id, expires)
    return f"{base}blob/{rec.id}/{expires}/{signature}/{quote(rec.name, safe='')}"


def segment_url(emu: Emulator, rec: FileRecord, base: str, segment: str) -> str:
    expires = emu.link_expiry()
    signature = emu.sign("hls", rec.id, expires)
    return f"{base}hls/{rec.id}/{expires}/{signature}/{segment}"


# ---- File JSON -------------------------------------------------------------------------------


def _media_metadata(rec: FileRecord) -> dict | None:
    if not rec.is_video:
        return None
    return {
        "aspect_ratio": round(SAMPLE_WIDTH / SAMPLE_HEIGHT, 3),
        "codec": "h264",
        "duration": SAMPLE_DURATION,
        "height": SAMPLE_HEIGHT,
        "width": SAMPLE_WIDTH,
    }


def _flag_fields(emu: Emulator, rec: FileRecord, base: str, flags: frozenset[str]) -> dict:
    fields: dict = {}
    video = rec.is_video
    if "stream_url" in flags:
        fields["stream_url"] = None if rec.is_folder else blob_url(emu, rec, base)
    if "mp4_stream_url" in flags and video:
        fields["mp4_stream_url"] = blob_url(emu, rec, base)
    if "mp4_status" in flags or "mp4_stream_url" in flags:
        fields["mp4_size"] = rec.size if video else None
        fields["need_convert"] = False
    if "video_metadata" in flags:
        fields["video_metadata"] = _media_metadata(rec)
    if "media_metadata" in flags:
        fields["media_metadata"] = _media_metadata(rec)
    if "codecs" in flags:
        fields["content_type_and_codecs"] = (
            f'{rec.content_type}; codecs="avc1.42C00D, mp4a.40.2"' if video else None
        )
    if "media_info" in flags:
        fields["media_info"] = (
            {
                "format": {"bit_rate": 76000, "duration": SAMPLE_DURATION, "name": "mov,mp4"},
                "mime_type": rec.content_type,
                "streams": [
                    {
                        "codec_type": "video",
                        "codec_name": "h264",
                        "profile": "Constrained Baseline",
                        "level": 13,
                        "width": SAMPLE_WIDTH,
                        "height": SAMPLE_HEIGHT,
                        "channels": None,
                        "rfc6381_codec": "avc1.42C00D",
                    },
                    {
                        "codec_type": "audio",
                        "codec_name": "aac",
                        "profile": "LC",
                        "level": None,
                        "width": None,
                        "height": None,
                        "channels": 1,
                        "rfc6381_codec": "mp4a.40.2",
                    },
                ],
            }
            if video
            else None
        )
    return fields


def file_json(
    emu: Emulator, rec: FileRecord, base: str, flags: frozenset[str] = frozenset()
) -> str:
    """A File object as JSON text; without flags it is the record's cached fragment."""
    if not flags:
        return emu.tree.fragment(rec, base)
    data = emu.tree.render(rec, base)
    data.update(_flag_fields(emu, rec, base, flags))
    return json.dumps(data, separators=(",", ":"))


def file_dict(
    emu: Emulator, rec: FileRecord, base: str, flags: frozenset[str] = frozenset()
) -> dict:
    data = emu.tree.render(rec, base)
    data.update(_flag_fields(emu, rec, base, flags))
    return data


def page_body(items_key: str, items: list[str], **extra: object) -> str:
    """`{"status":"OK","<items_key>":[...],...}` from JSON fragments, without re-encoding them."""
    parts = [f'{{"status":"OK","{items_key}":[', ",".join(items), "]"]
    for key, value in extra.items():
        if isinstance(value, _Raw):
            parts.append(f',"{key}":{value.text}')
        else:
            parts.append(f',"{key}":{json.dumps(value)}')
    parts.append("}")
    return "".join(parts)


class _Raw:
    """Already-encoded JSON for `page_body`."""

    def __init__(self, text: str) -> None:
        self.text = text


def raw(text: str | None) -> _Raw:
    return _Raw("null" if text is None else text)
