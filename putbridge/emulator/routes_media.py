"""Bytes: download/stream redirects, signed blob links with Range, HLS, subtitles, screenshots."""

from __future__ import annotations

import math
from urllib.parse import quote

from flask import Blueprint, Response, redirect, request

from .errors import ApiError, not_found
from .files import FileRecord
from .media import Content, asset, hls_segments, srt_to_webvtt
from .subtitles import language_of, subtitle_text, subtitles_for
from .views import blob_url, segment_url
from .webutil import base_url, emulator, float_param, get_param, ok

bp = Blueprint("putio_media", __name__)
blob_bp = Blueprint("putio_blobs", __name__)


def _require_file(file_id: int) -> FileRecord:
    rec = emulator().tree.require(file_id)
    if rec.is_folder or rec.content is None:
        raise ApiError(400, "NotFile", f"{file_id} is a folder, not a file")
    return rec


def _require_video(file_id: int) -> FileRecord:
    rec = emulator().tree.require(file_id)
    if not rec.is_video:
        raise ApiError(400, "INVALID_MEDIA", f"{file_id} is not a video")
    return rec


def _redirect_to_blob(file_id: int) -> Response:
    emu = emulator()
    with emu.lock:
        rec = _require_file(file_id)
        if rec.first_accessed_at is None:
            rec.first_accessed_at = emu.clock.now()
            rec.fragment = None
        url = blob_url(emu, rec, base_url())
    return redirect(url, code=302)


@bp.get("/files/<int:file_id>/download")
@bp.get("/files/<int:file_id>/download/<path:name>")
@bp.get("/files/<int:file_id>/stream")
@bp.get("/files/<int:file_id>/mp4/stream")
@bp.get("/files/<int:file_id>/mp4/download")
@bp.get("/files/<int:file_id>/mp4/download/<path:name>")
def download(file_id: int, name: str | None = None) -> Response:
    return _redirect_to_blob(file_id)


@bp.get("/files/<int:file_id>/url")
def download_url(file_id: int) -> Response:
    emu = emulator()
    with emu.lock:
        return ok(url=blob_url(emu, _require_file(file_id), base_url()))


@bp.route("/files/<int:file_id>/mp4", methods=["GET", "POST"])
def mp4_status(file_id: int) -> Response:
    emu = emulator()
    with emu.lock:
        rec = _require_video(file_id)
        return ok(mp4={"id": rec.id, "status": "COMPLETED", "percent_done": 100, "size": rec.size})


@bp.delete("/files/<int:file_id>/mp4")
def mp4_delete(file_id: int) -> Response:
    with emulator().lock:
        _require_video(file_id)
    return ok()


@bp.get("/files/<int:file_id>/hls/media.m3u8")
def hls_playlist(file_id: int) -> Response:
    emu = emulator()
    with emu.lock:
        rec = _require_video(file_id)
        segments = [
            (segment_url(emu, rec, base_url(), name), duration) for name, duration in hls_segments()
        ]
    target = max(1, math.ceil(max(duration for _, duration in segments)))
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
    ]
    for url, duration in segments:
        lines += [f"#EXTINF:{duration:.6f},", url]
    lines.append("#EXT-X-ENDLIST")
    return Response("\n".join(lines) + "\n", mimetype="application/vnd.apple.mpegurl")


@bp.get("/files/<int:file_id>/subtitles")
def subtitles_list(file_id: int) -> Response:
    """Subtitles of a video; other files have none (an empty list, as put.io answers)."""
    emu = emulator()
    wanted = get_param("languages")
    codes = {language_of(tag)[0] for tag in wanted.split(",") if tag.strip()} if wanted else None
    with emu.lock:
        rec = _require_file(file_id)
        found = subtitles_for(emu.tree, rec) if rec.is_video else []
        items = [
            s.to_dict(base_url(), rec.id)
            for s in found
            if codes is None or s.language_code in codes
        ]
    return ok(default=items[0]["key"] if items else None, subtitles=items)


@bp.get("/files/<int:file_id>/subtitles/<key>")
def subtitle_get(file_id: int, key: str) -> Response:
    emu = emulator()
    with emu.lock:
        rec = _require_file(file_id)
        found = subtitles_for(emu.tree, rec) if rec.is_video else []
        if key == "default":
            match = found[0] if found else None
        else:
            match = next((s for s in found if s.key == key), None)
        if match is None:
            raise not_found("Subtitle")
        text = subtitle_text(emu.tree, rec, match)
    if (get_param("format") or "srt").lower() in ("webvtt", "vtt"):
        return Response(srt_to_webvtt(text), mimetype="text/vtt")
    return Response(text, mimetype="application/x-subrip")


@bp.get("/files/<int:file_id>/screenshot.jpg")
def screenshot(file_id: int) -> Response:
    with emulator().lock:
        _require_video(file_id)
    return Response(asset("screenshot.jpg"), mimetype="image/jpeg")


@bp.get("/files/<int:file_id>/start-from")
def start_from_get(file_id: int) -> Response:
    with emulator().lock:
        return ok(start_from=_require_video(file_id).start_from)


@bp.post("/files/<int:file_id>/start-from")
@bp.post("/files/<int:file_id>/start-from/set")
def start_from_set(file_id: int) -> Response:
    seconds = float_param("time")
    if seconds is None or seconds < 0:
        raise ApiError(400, "BadRequest", "time must be a number >= 0")
    with emulator().lock:
        _require_video(file_id).start_from = seconds
    return ok()


@bp.route("/files/<int:file_id>/start-from/delete", methods=["GET", "POST"])
def start_from_delete(file_id: int) -> Response:
    with emulator().lock:
        _require_video(file_id).start_from = 0.0
    return ok()


# ---- signed bytes, outside /v2 -----------------------------------------------------------


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, stop) for one `bytes=` range; None to ignore the header (malformed or several
    ranges); ApiError 416 when it cannot be satisfied."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if not first:
            suffix = int(last)
            start, stop = max(0, size - suffix), size
            if suffix <= 0:
                start = size
        else:
            start = int(first)
            stop = int(last) + 1 if last else size
            if last and stop <= start:
                return None
    except ValueError:
        return None
    if start < 0 or start >= size:
        raise ApiError(
            416,
            "RangeNotSatisfiable",
            f"Range {header!r} is outside the file ({size} bytes)",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return start, min(stop, size)


def serve_content(content: Content, content_type: str, name: str) -> Response:
    size = content.size
    start, stop, status = 0, size, 200
    header = request.headers.get("Range")
    if header:
        byte_range = parse_range(header, size)
        if byte_range is not None:
            (start, stop), status = byte_range, 206
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(stop - start),
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(name, safe='')}",
        "ETag": f'"{content.crc32}-{size}"',
    }
    if status == 206:
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    body = [] if request.method == "HEAD" else content.iter_bytes(start, stop)
    return Response(
        body, status=status, headers=headers, content_type=content_type, direct_passthrough=True
    )


@blob_bp.get("/blob/<int:file_id>/<int:expires>/<signature>/<path:name>")
def blob(file_id: int, expires: int, signature: str, name: str) -> Response:
    emu = emulator()
    emu.check_signature("blob", file_id, expires, signature)
    with emu.lock:
        rec = emu.tree.get(file_id)
        if rec is None:
            raise not_found("File")
        if rec.content is None:
            raise ApiError(400, "NotFile", f"{file_id} is a folder, not a file")
        content, content_type, file_name = rec.content, rec.content_type, rec.name
    return serve_content(content, content_type, file_name)


@blob_bp.get("/hls/<int:file_id>/<int:expires>/<signature>/<segment>")
def hls_segment(file_id: int, expires: int, signature: str, segment: str) -> Response:
    emu = emulator()
    emu.check_signature("hls", file_id, expires, signature)
    if segment not in {name for name, _ in hls_segments()}:
        raise not_found("Segment")
    with emu.lock:
        if emu.tree.get(file_id) is None:
            raise not_found("File")
    return Response(asset(segment), mimetype="video/mp2t")


@blob_bp.get("/images/file_types/<kind>.png")
def file_type_icon(kind: str) -> Response:
    return Response(asset("icon.png"), mimetype="image/png")
