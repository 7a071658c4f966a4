"""/v2/files: listing with cursors, single files, folders, delete/rename/move, search."""

from __future__ import annotations

from flask import Blueprint, Response

from .errors import ApiError, not_found
from .files import ROOT_ID
from .listing import validate_per_page
from .views import FILE_FLAGS, file_dict, file_json, page_body, raw, select_files
from .webutil import (
    base_url,
    csv_ints,
    emulator,
    flag,
    get_param,
    int_param,
    json_text,
    ok,
    require_param,
)

bp = Blueprint("putio_files", __name__)

MAX_SEARCH_QUERY = 255


def _flags(suffix: str = "") -> frozenset[str]:
    return frozenset(name for name in FILE_FLAGS if flag(name + suffix))


def _file_page(ids: list[int], flags: frozenset[str]) -> list[str]:
    emu = emulator()
    base = base_url()
    records = emu.tree.records
    return [file_json(emu, records[i], base, flags) for i in ids if i in records]


@bp.get("/files/list")
def files_list() -> Response:
    emu = emulator()
    parent_id = int_param("parent_id", ROOT_ID)
    per_page = validate_per_page(int_param("per_page"))
    flags = _flags()
    with emu.lock:
        parent, ids = select_files(
            emu,
            parent_id,
            sort_by=get_param("sort_by") or get_param("sort"),
            file_type=get_param("file_type"),
            content_type=get_param("content_type"),
        )
        page, cursor = emu.listings.start("files", ids, per_page, {"flags": flags})
        items = _file_page(page, flags)
        parent_text = file_json(emu, parent, base_url(), _flags("_parent")) if parent else None
        extra: dict = {"parent": raw(parent_text), "cursor": cursor}
        if flag("total"):
            extra["total"] = len(ids)
        if flag("breadcrumbs") and parent is not None:
            crumbs = []
            node = emu.tree.get(parent.parent_id) if parent.parent_id is not None else None
            while node is not None and node.id != ROOT_ID:
                crumbs.append([node.id, node.name])
                node = emu.tree.get(node.parent_id) if node.parent_id is not None else None
            extra["breadcrumbs"] = list(reversed(crumbs))
    return json_text(page_body("files", items, **extra))


@bp.post("/files/list/continue")
def files_list_continue() -> Response:
    emu = emulator()
    per_page = int_param("per_page")
    with emu.lock:
        page, cursor, context = emu.listings.resume("files", get_param("cursor"), per_page)
        items = _file_page(page, context.get("flags", frozenset()))
    return json_text(page_body("files", items, cursor=cursor))


@bp.get("/files/search")
def files_search() -> Response:
    emu = emulator()
    query = (get_param("query") or "").strip()
    if not query:
        raise ApiError(400, "BadRequest", "query is required")
    if len(query) > MAX_SEARCH_QUERY:
        raise ApiError(400, "SEARCH_TOO_LONG_QUERY", "The search query is too long")
    per_page = validate_per_page(int_param("per_page", 100))
    needle = query.casefold()
    with emu.lock:
        _, ids = select_files(emu, -1, file_type=get_param("type") or get_param("file_type"))
        records = emu.tree.records
        ids = [i for i in ids if needle in records[i].name.casefold()]
        page, cursor = emu.listings.start("search", ids, per_page)
        items = _file_page(page, frozenset())
    return json_text(page_body("files", items, cursor=cursor, total=len(ids)))


@bp.post("/files/search/continue")
def files_search_continue() -> Response:
    emu = emulator()
    with emu.lock:
        page, cursor, _ = emu.listings.resume("search", get_param("cursor"), int_param("per_page"))
        items = _file_page(page, frozenset())
    return json_text(page_body("files", items, cursor=cursor))


@bp.get("/files/<int:file_id>")
def file_get(file_id: int) -> Response:
    emu = emulator()
    with emu.lock:
        rec = emu.tree.require(file_id)
        return ok(file=file_dict(emu, rec, base_url(), _flags()))


@bp.get("/files/<int:file_id>/child")
def file_child(file_id: int) -> Response:
    emu = emulator()
    name = require_param("name")
    with emu.lock:
        rec = emu.tree.child(file_id, name)
        if rec is None:
            raise not_found("File")
        return ok(file=file_dict(emu, rec, base_url()))


@bp.post("/files/create-folder")
def create_folder() -> Response:
    emu = emulator()
    name = get_param("name")
    path = get_param("path")
    parent_id = int_param("parent_id", ROOT_ID)
    with emu.lock:
        now = emu.clock.now()
        if path and path.strip("/"):
            parts = [part for part in path.split("/") if part]
            if not name:
                parent_id = emu.tree.ensure_folders(parts[:-1], parent_id, now)
                name = parts[-1]
            else:
                parent_id = emu.tree.ensure_folders(parts, parent_id, now)
        rec = emu.tree.add_folder(name or "", parent_id, now)
        return ok(file=file_dict(emu, rec, base_url()))


@bp.post("/files/delete")
def files_delete() -> Response:
    emu = emulator()
    ids = csv_ints("file_ids", "file_id")
    if not ids:
        raise ApiError(400, "BadRequest", "file_ids is required")
    skipped = 0
    with emu.lock:
        for file_id in ids:
            if emu.tree.get(file_id) is None:
                skipped += 1
                continue
            emu.tree.delete(file_id)
    return ok(cursor=None, skipped=skipped)


@bp.post("/files/rename")
def files_rename() -> Response:
    emu = emulator()
    file_id = int_param("file_id")
    if file_id is None:
        raise ApiError(400, "BadRequest", "file_id is required")
    name = get_param("name") or ""
    with emu.lock:
        parent = emu.tree.require(file_id).parent_id
        existing = emu.tree.child(parent, name) if parent is not None and name else None
        if existing is not None and existing.id != file_id:
            raise ApiError(400, "NAME_ALREADY_EXIST", f"A file named {name!r} already exists")
        emu.tree.rename(file_id, name, emu.clock.now())
    return ok()


@bp.post("/files/move")
def files_move() -> Response:
    emu = emulator()
    ids = csv_ints("file_ids", "file_id")
    parent_id = int_param("parent_id")
    if not ids or parent_id is None:
        raise ApiError(400, "BadRequest", "file_ids and parent_id are required")
    errors = []
    with emu.lock:
        emu.tree.require_folder(parent_id)
        for file_id in ids:
            try:
                emu.tree.move(file_id, parent_id, emu.clock.now())
            except ApiError as err:
                rec = emu.tree.get(file_id)
                errors.append(
                    {
                        "id": file_id,
                        "name": rec.name if rec else None,
                        "error_type": err.error_type,
                        "status_code": err.status_code,
                    }
                )
    return ok(errors=errors)
