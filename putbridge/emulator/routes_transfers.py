"""/v2/transfers and the upload host's /upload/v2/files/upload."""

from __future__ import annotations

import json

from flask import Blueprint, Response, request

from .errors import ApiError
from .files import ROOT_ID
from .listing import validate_per_page
from .torrents import looks_like_torrent
from .views import file_dict, page_body
from .webutil import (
    base_url,
    csv_ints,
    emulator,
    flag,
    get_param,
    int_param,
    json_text,
    ok,
)

bp = Blueprint("putio_transfers", __name__)
upload_bp = Blueprint("putio_upload", __name__)


def _transfer_json(ids: list[int]) -> list[str]:
    emu = emulator()
    items = []
    for transfer_id in ids:
        try:
            items.append(json.dumps(emu.transfer_dict(transfer_id), separators=(",", ":")))
        except ApiError:
            continue  # removed since the listing started
    return items


def _save_parent_id(name: str) -> int:
    value = int_param(name)
    if value is None or value < 0:
        default = emulator().settings.get("default_download_folder", ROOT_ID)
        return default if isinstance(default, int) and not isinstance(default, bool) else ROOT_ID
    return value


def _entry_parent(entry: dict) -> int:
    parent = entry.get("save_parent_id")
    if parent in (None, ""):
        return ROOT_ID
    if isinstance(parent, bool):
        raise ApiError(400, "BadRequest", "save_parent_id must be an integer")
    try:
        return int(parent)
    except (TypeError, ValueError, OverflowError) as err:
        raise ApiError(400, "BadRequest", "save_parent_id must be an integer") from err


@bp.post("/transfers/add")
def transfers_add() -> Response:
    emu = emulator()
    transfer_id = emu.add_transfer(
        get_param("url") or "",
        save_parent_id=_save_parent_id("save_parent_id"),
        callback_url=get_param("callback_url") or None,
        client_ip=request.remote_addr,
    )
    return ok(transfer=emu.transfer_dict(transfer_id))


@bp.post("/transfers/add-multi")
def transfers_add_multi() -> Response:
    emu = emulator()
    try:
        entries = json.loads(get_param("urls") or "[]")
    except ValueError as err:
        raise ApiError(400, "BadRequest", "urls must be a JSON array") from err
    if not isinstance(entries, list):
        raise ApiError(400, "BadRequest", "urls must be a JSON array")
    transfers, errors = [], []
    for entry in entries:
        entry = entry if isinstance(entry, dict) else {"url": entry}
        url = str(entry.get("url") or "")
        callback_url = entry.get("callback_url")
        try:
            if callback_url is not None and not isinstance(callback_url, str):
                raise ApiError(400, "BadRequest", "callback_url must be a string")
            transfer_id = emu.add_transfer(
                url,
                save_parent_id=_entry_parent(entry),
                callback_url=callback_url or None,
                client_ip=request.remote_addr,
            )
            transfers.append(emu.transfer_dict(transfer_id))
        except ApiError as err:
            errors.append(
                {"url": url, "error_type": err.error_type, "status_code": err.status_code}
            )
    return ok(transfers=transfers, errors=errors)


@bp.get("/transfers/list")
def transfers_list() -> Response:
    emu = emulator()
    per_page = validate_per_page(int_param("per_page"))
    with emu.lock:
        ids = emu.transfer_ids()
        page, cursor = emu.listings.start("transfers", ids, per_page)
        items = _transfer_json(page)
    extra: dict = {"cursor": cursor}
    if flag("total"):
        extra["total"] = len(ids)
    return json_text(page_body("transfers", items, **extra))


@bp.post("/transfers/list/continue")
def transfers_list_continue() -> Response:
    emu = emulator()
    with emu.lock:
        page, cursor, _ = emu.listings.resume(
            "transfers", get_param("cursor"), int_param("per_page")
        )
        items = _transfer_json(page)
    return json_text(page_body("transfers", items, cursor=cursor))


@bp.get("/transfers/count")
def transfers_count() -> Response:
    return ok(count=len(emulator().transfer_ids()))


@bp.get("/transfers/<int:transfer_id>")
def transfer_get(transfer_id: int) -> Response:
    return ok(transfer=emulator().transfer_dict(transfer_id))


@bp.get("/transfers/<int:transfer_id>/torrent")
def transfer_torrent(transfer_id: int) -> Response:
    emu = emulator()
    with emu.lock:
        rec = emu.require_transfer(transfer_id)
        if not rec.is_torrent:
            raise ApiError(400, "NOT_TORRENT", "This transfer is not a torrent")
        if rec.torrent is None:
            raise ApiError(400, "IS_MAGNET", "This transfer was added from a magnet link")
        data = rec.torrent.raw
    return Response(data, mimetype="application/x-bittorrent")


@bp.post("/transfers/retry")
def transfers_retry() -> Response:
    emu = emulator()
    transfer_id = int_param("id") or int_param("transfer_id")
    if transfer_id is None:
        raise ApiError(400, "BadRequest", "id is required")
    emu.retry_transfer(transfer_id)
    return ok(transfer=emu.transfer_dict(transfer_id))


@bp.post("/transfers/cancel")
def transfers_cancel() -> Response:
    ids = csv_ints("transfer_ids", "transfer_id", "id")
    if ids is None:
        raise ApiError(400, "BadRequest", "transfer_ids is required")
    emulator().cancel_transfers(ids)
    return ok()


@bp.post("/transfers/clean")
def transfers_clean() -> Response:
    deleted = emulator().clean_transfers(csv_ints("transfer_ids"))
    return ok(deleted_ids=deleted)


@bp.post("/transfers/remove")
def transfers_remove() -> Response:
    emulator().remove_transfers(csv_ints("transfer_ids"), get_param("remove_filter"))
    return ok()


@upload_bp.post("/files/upload")
def upload() -> Response:
    emu = emulator()
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(400, "BadRequest", "The multipart field 'file' is required")
    data = upload.read()
    name = get_param("filename") or upload.filename or "upload"
    parent_id = _save_parent_id("parent_id")
    if name.lower().endswith(".torrent") or looks_like_torrent(data):
        transfer_id = emu.add_torrent(
            data,
            save_parent_id=parent_id,
            callback_url=get_param("callback_url") or None,
            client_ip=request.remote_addr,
        )
        return ok(transfer=emu.transfer_dict(transfer_id))
    file_id = emu.upload_file(name.rsplit("/", 1)[-1], data, parent_id)
    with emu.lock:
        return ok(file=file_dict(emu, emu.tree.require(file_id), base_url()))
