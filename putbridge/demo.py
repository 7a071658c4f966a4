"""`putbridge demo`: the pipeline against the bundled emulator, with no account and no network.

At this stage it starts the emulator with its sample account, lists the whole account through
PutioClient in one flat listing, starts a transfer from a magnet link and follows it to the end.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from putbridge.emulator import Emulator, EmulatorServer, RealClock
from putbridge.putio import File, PutioClient

DEMO_MAGNET = (
    "magnet:?xt=urn:btih:c9e15763f722f23e98a29decdfae341b98d53056"
    "&dn=Cosmos.Laundromat.2015.1080p.WEB.mkv"
)


def run_demo(echo: Callable[[str], None], *, transfer_timeout: float = 60.0) -> None:
    """Print what putbridge sees of the sample account, then follow one transfer to the end."""
    token = secrets.token_urlsafe(18)
    emu = Emulator(token=token, clock=RealClock(), transfer_speed=500_000_000)
    try:
        emu.populate_sample()
        with EmulatorServer(emu) as server:
            echo(f"put.io emulator at {server.api_url} (sample account)")
            with PutioClient(token, api_url=server.api_url, upload_url=server.upload_url) as client:
                _show_account(client, echo)
                _follow_transfer(client, echo, transfer_timeout)
                echo(f"{client.request_count} put.io API requests in all.")
    finally:
        emu.close()


def _show_account(client: PutioClient, echo: Callable[[str], None]) -> None:
    started = time.monotonic()
    before = client.request_count
    files = list(client.iter_files(parent_id=-1))
    took = time.monotonic() - started
    paths = _paths(files)
    videos = [f for f in files if f.is_video]
    echo(
        f"Listed {len(files)} files and folders in {client.request_count - before} request(s), "
        f"{took:.2f} s; {len(videos)} videos:"
    )
    for video in sorted(videos, key=lambda f: paths[f.id]):
        echo(f"  {paths[video.id]}  ({_size(video.size)}, crc32 {video.crc32})")


def _follow_transfer(client: PutioClient, echo: Callable[[str], None], timeout: float) -> None:
    transfer = client.add_transfer(DEMO_MAGNET)
    echo(f"Added transfer {transfer.id}: {transfer.name}")
    deadline = time.monotonic() + timeout
    last = None
    while not transfer.is_terminal:
        if time.monotonic() > deadline:
            echo(f"Transfer {transfer.id} did not finish within {timeout:.0f} s")
            return
        time.sleep(0.5)
        transfer = client.get_transfer(transfer.id)
        state = (transfer.status, transfer.percent_done)
        if state != last:
            echo(f"  {transfer.status:<12} {transfer.percent_done or 0:>3.0f}%")
            last = state
    if transfer.status == "ERROR":
        echo(f"Transfer failed: {transfer.error_message}")
        return
    done = client.get_file(transfer.file_id)
    echo(f"Completed: put.io file {done.id} '{done.name}' ({_size(done.size)})")
    echo(f"  stream link (signed, short-lived): {client.file_url(done.id)}")


def _paths(files: list[File]) -> dict[int, str]:
    by_id = {f.id: f for f in files}
    paths: dict[int, str] = {}

    def path_of(file: File) -> str:
        if file.id not in paths:
            parent = by_id.get(file.parent_id) if file.parent_id else None
            paths[file.id] = (path_of(parent) if parent else "") + "/" + file.name
        return paths[file.id]

    for file in files:
        path_of(file)
    return paths


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
