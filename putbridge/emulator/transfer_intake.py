"""Turning a URL, magnet or .torrent into a transfer record, and a finished transfer into files."""

from __future__ import annotations

from .errors import ApiError
from .files import FileTree
from .media import BytesContent, extension_of, generate_content, guess_content_type
from .torrents import (
    TorrentMeta,
    is_http_url,
    layout_problem,
    parse_magnet,
    probe_url,
    url_name,
)
from .transfers import DEFAULT_TRANSFER_SIZE, TransferRecord


def build_transfer(
    url: str | None,
    save_parent_id: int,
    callback_url: str | None,
    client_ip: str | None,
    torrent: TorrentMeta | None = None,
) -> TransferRecord:
    """A not-yet-scheduled record (id 0); may fetch the URL, so call it outside the lock."""
    common = {
        "save_parent_id": save_parent_id,
        "callback_url": callback_url or None,
        "client_ip": client_ip,
        "created_at": 0.0,
    }
    if torrent is not None:
        return _from_torrent(torrent, torrent.magnet, common)
    url = (url or "").strip()
    if not url:
        raise ApiError(400, "EMPTY_URL", "url is required")
    if url.lower().startswith("magnet:"):
        magnet = parse_magnet(url)
        return TransferRecord(
            id=0,
            name=magnet.name or magnet.info_hash,
            source=url,
            type="TORRENT",
            hash=magnet.info_hash,
            size=magnet.size or DEFAULT_TRANSFER_SIZE,
            tracker=magnet.trackers[0] if magnet.trackers else None,
            **common,
        )
    if not is_http_url(url):
        raise ApiError(400, "TRANSFER_INVALID", "url must be a magnet link or an http(s) URL")
    probe = probe_url(url)
    if probe.torrent is not None:
        return _from_torrent(probe.torrent, url, common)
    rec = TransferRecord(
        id=0,
        name=url_name(url),
        source=url,
        type="URL",
        hash=None,
        size=probe.size if probe.size is not None else DEFAULT_TRANSFER_SIZE,
        content=probe.content,
        failure=probe.failure,
        **common,
    )
    if probe.failure:
        rec.extra["fetch_failure"] = probe.failure
    return rec


def _from_torrent(meta: TorrentMeta, source: str, common: dict) -> TransferRecord:
    return TransferRecord(
        id=0,
        name=meta.name,
        source=source,
        type="TORRENT",
        hash=meta.info_hash,
        size=meta.size,
        torrent=meta,
        tracker=meta.trackers[0] if meta.trackers else None,
        **common,
    )


def _safe(name: str) -> str:
    name = name.replace("/", "_").replace("\x00", "_").strip()
    return name[:255] or "_"


def completed_name(name: str) -> str:
    """A file name for a magnet/URL transfer: add .mkv when the name has no known extension."""
    name = _safe(name)
    ext = extension_of(name)
    if ext is None or guess_content_type(name) == "application/octet-stream":
        return _safe(name + ".mkv")
    return name


def materialize(tree: FileTree, rec: TransferRecord, now: float) -> int:
    """Create the transfer's files under its save folder (the root if that folder is gone);
    returns the file id (a multi-file torrent: its folder).

    A torrent's layout is checked before anything is created, and a multi-file torrent whose
    files cannot all be created leaves no folder behind: the error propagates, the tree is as
    it was."""
    parent = tree.get(rec.save_parent_id)
    parent_id = rec.save_parent_id if parent is not None and parent.is_folder else 0
    meta = rec.torrent
    if meta is not None:
        problem = layout_problem(meta.name, (parts for parts, _ in meta.files))
        if problem:
            raise ApiError(400, "INVALID_TORRENT", f"Invalid .torrent file: {problem}")
    if meta is not None and meta.multi_file:
        folder = tree.add_folder(meta.name, parent_id, now, unique=False)
        try:
            for parts, size in meta.files:
                folder_id = tree.ensure_folders(list(parts[:-1]), folder.id, now)
                tree.add_file(parts[-1], folder_id, generate_content(parts[-1], size), now)
        except Exception:
            tree.delete(folder.id)
            raise
        return folder.id
    if meta is not None:
        name = meta.files[0][0][-1]
        content = generate_content(name, meta.size)
    else:
        name = completed_name(rec.name)
        if rec.content is not None:
            content = BytesContent(rec.content)
        else:
            content = generate_content(name, rec.size)
    return tree.add_file(name, parent_id, content, now).id
