"""The account's folder tree: records, cumulative folder sizes, paths and File JSON.

Not thread-safe by itself: the `Emulator` holds its lock around every call. Each record caches its
JSON text (per base URL), dropped whenever something it shows changes, so listing a page of a
thousand files is mostly string joining.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .errors import ApiError, not_found
from .media import (
    FOLDER_CONTENT_TYPE,
    Content,
    extension_of,
    guess_content_type,
    guess_file_type,
)

ROOT_ID = 0
ROOT_NAME = "My Files"
FIRST_FILE_ID = 1001
MAX_NAME_LENGTH = 255


def format_time(ts: float | None) -> str | None:
    """put.io's timestamp format: UTC, no zone, no fraction."""
    if ts is None:
        return None
    return _format_seconds(int(ts))


@functools.lru_cache(maxsize=4096)
def _format_seconds(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass(eq=False, slots=True)
class FileRecord:
    """One file or folder of the emulated account."""

    id: int
    name: str
    parent_id: int | None
    file_type: str
    content_type: str
    created_at: float
    updated_at: float
    content: Content | None = None
    size: int = 0  # a folder's is the sum of everything below it
    children: dict[int, None] | None = None  # ordered set of child ids (folders only)
    names: dict[str, int] | None = None  # child name -> first child id with that name
    first_accessed_at: float | None = None
    start_from: float = 0.0
    fragment: tuple[str, str] | None = field(default=None, repr=False)

    @property
    def is_folder(self) -> bool:
        return self.children is not None

    @property
    def extension(self) -> str | None:
        return None if self.is_folder else extension_of(self.name)

    @property
    def is_video(self) -> bool:
        return self.file_type == "VIDEO"


def validate_name(name: str) -> str:
    if name is None or not str(name).strip():
        raise ApiError(400, "EMPTY_NAME", "Name cannot be empty")
    name = str(name)
    if "/" in name:
        raise ApiError(400, "SLASH_IN_NAME", "Name cannot contain a slash")
    if len(name) > MAX_NAME_LENGTH:
        raise ApiError(400, "NAME_TOO_LONG", f"Name is longer than {MAX_NAME_LENGTH} characters")
    return name


def _folder_record(file_id: int, name: str, parent_id: int | None, now: float) -> FileRecord:
    return FileRecord(
        id=file_id,
        name=name,
        parent_id=parent_id,
        file_type="FOLDER",
        content_type=FOLDER_CONTENT_TYPE,
        created_at=now,
        updated_at=now,
        children={},
        names={},
    )


class FileTree:
    def __init__(self, now: float) -> None:
        root = _folder_record(ROOT_ID, ROOT_NAME, None, now)
        self.records: dict[int, FileRecord] = {ROOT_ID: root}
        self._next_id = FIRST_FILE_ID

    # ---- lookups ---------------------------------------------------------------------------

    def get(self, file_id: int) -> FileRecord | None:
        return self.records.get(file_id)

    def require(self, file_id: int) -> FileRecord:
        rec = self.records.get(file_id)
        if rec is None:
            raise not_found("File")
        return rec

    def require_folder(self, file_id: int) -> FileRecord:
        rec = self.require(file_id)
        if not rec.is_folder:
            raise ApiError(400, "NotAFolder", f"File {file_id} is not a folder")
        return rec

    def child(self, parent_id: int, name: str) -> FileRecord | None:
        parent = self.require_folder(parent_id)
        assert parent.names is not None
        child_id = parent.names.get(name)
        return None if child_id is None else self.records[child_id]

    def path_of(self, file_id: int) -> str:
        parts: list[str] = []
        rec = self.require(file_id)
        while rec.parent_id is not None:
            parts.append(rec.name)
            rec = self.records[rec.parent_id]
        return "/" + "/".join(reversed(parts))

    def resolve(self, path: str) -> int | None:
        current = ROOT_ID
        for part in (p for p in path.split("/") if p):
            rec = self.records[current]
            if rec.names is None or part not in rec.names:
                return None
            current = rec.names[part]
        return current

    def descendants(self, file_id: int) -> list[int]:
        """Every id under `file_id` (not itself), parents before children."""
        result: list[int] = []
        stack = [file_id]
        while stack:
            rec = self.records[stack.pop()]
            if rec.children:
                kids = list(rec.children)
                result.extend(kids)
                stack.extend(reversed(kids))
        return result

    # ---- changes ---------------------------------------------------------------------------

    def _new_id(self) -> int:
        new_id = self._next_id
        self._next_id += 1
        return new_id

    def add_folder(
        self, name: str, parent_id: int, now: float, *, unique: bool = True
    ) -> FileRecord:
        name = validate_name(name)
        parent = self.require_folder(parent_id)
        if unique and parent.names is not None and name in parent.names:
            raise ApiError(400, "NAME_ALREADY_EXIST", f"A file named {name!r} already exists")
        rec = _folder_record(self._new_id(), name, parent.id, now)
        self._attach(rec, parent)
        return rec

    def add_file(
        self,
        name: str,
        parent_id: int,
        content: Content,
        now: float,
        file_type: str | None = None,
    ) -> FileRecord:
        name = validate_name(name)
        parent = self.require_folder(parent_id)
        rec = FileRecord(
            id=self._new_id(),
            name=name,
            parent_id=parent.id,
            file_type=file_type or guess_file_type(name),
            content_type=guess_content_type(name),
            created_at=now,
            updated_at=now,
            content=content,
            size=content.size,
        )
        self._attach(rec, parent)
        return rec

    def ensure_folders(self, parts: list[str], parent_id: int, now: float) -> int:
        """Walk or create the folders `parts` under `parent_id`; returns the last folder's id."""
        current = parent_id
        for part in parts:
            existing = self.child(current, part)
            if existing is None:
                current = self.add_folder(part, current, now).id
            elif not existing.is_folder:
                raise ApiError(400, "NotAFolder", f"{part!r} exists and is not a folder")
            else:
                current = existing.id
        return current

    def _attach(self, rec: FileRecord, parent: FileRecord) -> None:
        assert parent.children is not None and parent.names is not None
        self.records[rec.id] = rec
        parent.children[rec.id] = None
        parent.names.setdefault(rec.name, rec.id)
        parent.updated_at = rec.created_at
        parent.fragment = None
        self._add_size(parent.id, rec.size)

    def _detach(self, rec: FileRecord) -> None:
        assert rec.parent_id is not None
        parent = self.records[rec.parent_id]
        assert parent.children is not None and parent.names is not None
        parent.children.pop(rec.id, None)
        if parent.names.get(rec.name) == rec.id:
            del parent.names[rec.name]
            for other in parent.children:
                if self.records[other].name == rec.name:
                    parent.names[rec.name] = other
                    break
        parent.fragment = None
        self._add_size(parent.id, -rec.size)

    def _add_size(self, folder_id: int | None, delta: int) -> None:
        while folder_id is not None:
            folder = self.records[folder_id]
            if delta:
                folder.size += delta
                folder.fragment = None
            folder_id = folder.parent_id

    def delete(self, file_id: int) -> list[int]:
        """Delete a file or a folder with its subtree; returns the removed ids."""
        if file_id == ROOT_ID:
            raise ApiError(400, "BadRequest", "The root folder cannot be deleted")
        rec = self.require(file_id)
        removed = [file_id, *self.descendants(file_id)]
        self._detach(rec)
        for gone in removed:
            del self.records[gone]
        return removed

    def rename(self, file_id: int, name: str, now: float) -> FileRecord:
        name = validate_name(name)
        rec = self.require(file_id)
        if rec.parent_id is None:
            raise ApiError(400, "BadRequest", "The root folder cannot be renamed")
        parent = self.records[rec.parent_id]
        self._detach(rec)
        rec.name = name
        if rec.content is not None:
            rec.file_type = guess_file_type(name)
            rec.content_type = guess_content_type(name)
        rec.updated_at = now
        rec.fragment = None
        self._reattach(rec, parent)
        return rec

    def move(self, file_id: int, parent_id: int, now: float) -> FileRecord:
        rec = self.require(file_id)
        parent = self.require_folder(parent_id)
        if file_id == ROOT_ID or file_id == parent_id or parent_id in self.descendants(file_id):
            raise ApiError(400, "BadRequest", "A folder cannot be moved into itself")
        self._detach(rec)
        rec.parent_id = parent.id
        rec.updated_at = now
        rec.fragment = None
        self._reattach(rec, parent)
        return rec

    def _reattach(self, rec: FileRecord, parent: FileRecord) -> None:
        assert parent.children is not None and parent.names is not None
        parent.children[rec.id] = None
        parent.names.setdefault(rec.name, rec.id)
        parent.fragment = None
        self._add_size(parent.id, rec.size)

    # ---- JSON ------------------------------------------------------------------------------

    def render(self, rec: FileRecord, base: str) -> dict:
        """The File object with every always-present field; `base` is the emulator's root URL
        ending in '/'."""
        folder = rec.is_folder
        video = rec.is_video
        content = rec.content
        icon_kind = "folder" if folder else rec.file_type.lower()
        return {
            "id": rec.id,
            "name": rec.name,
            "parent_id": rec.parent_id,
            "file_type": rec.file_type,
            "content_type": rec.content_type,
            "size": rec.size,
            "crc32": None if content is None else content.crc32,
            "created_at": format_time(rec.created_at),
            "updated_at": format_time(rec.updated_at),
            "first_accessed_at": format_time(rec.first_accessed_at),
            "is_mp4_available": video,
            "is_shared": False,
            "is_hidden": False,
            "screenshot": f"{base}v2/files/{rec.id}/screenshot.jpg" if video else None,
            "icon": f"{base}images/file_types/{icon_kind}.png",
            "opensubtitles_hash": content.opensubtitles_hash if video and content else None,
            "extension": rec.extension,
            "folder_type": "REGULAR",
        }

    def fragment(self, rec: FileRecord, base: str) -> str:
        """`render` as cached JSON text."""
        cached = rec.fragment
        if cached is not None and cached[0] == base:
            return cached[1]
        text = json.dumps(self.render(rec, base), separators=(",", ":"))
        rec.fragment = (base, text)
        return text
