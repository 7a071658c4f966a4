"""`putbridge demo`: the daemon against the bundled emulator, with no account and no network.

It starts the emulator with its sample account, lists the whole account through PutioClient in
one flat listing, then runs the daemon (the same Service as `putbridge run`): the first full sync
writes the account into ``./demo/library`` as .strm files (movies and shows layouts) while the
signed stream links are served; one link is opened the way a player would; a magnet file is
dropped into ``./demo/blackhole`` and followed until its .strm is in the library.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import requests

from putbridge.config import BlackholeSettings, LibrarySettings, MediaServerSettings, Settings
from putbridge.emulator import Emulator, EmulatorServer, RealClock
from putbridge.library.tree import PutioTree
from putbridge.mediaservers.notifier import library_roots, scan_folders
from putbridge.putio import PutioClient
from putbridge.service import Service

DEMO_MAGNET = (
    "magnet:?xt=urn:btih:c9e15763f722f23e98a29decdfae341b98d53056"
    "&dn=Cosmos.Laundromat.2015.1080p.WEB.mkv"
)
DEMO_DROP = "Cosmos.Laundromat.2015.1080p.WEB.magnet"


def run_demo(
    echo: Callable[[str], None],
    *,
    workdir: Path = Path("demo"),
    transfer_timeout: float = 60.0,
    serve_until: Callable[[], None] | None = None,
    mediaservers: Iterable[MediaServerSettings] = (),
) -> None:
    """Show the sample account, run the daemon on it, follow one blackhole drop into the
    library. ``serve_until``: called (blocking) before shutting down, to keep serving."""
    token = secrets.token_urlsafe(18)
    emu = Emulator(token=token, clock=RealClock(), transfer_speed=500_000_000)
    try:
        emu.populate_sample()
        with EmulatorServer(emu) as server:
            echo(f"put.io emulator at {server.api_url} (sample account)")
            with PutioClient(token, api_url=server.api_url, upload_url=server.upload_url) as c:
                _show_account(c, echo)
            settings = _demo_settings(workdir, server, token)
            settings.mediaserver = list(mediaservers)
            roots = library_roots(settings.library)
            notifier = None if settings.mediaserver else _ShownScans(echo, roots)
            with Service(settings, notifier=notifier) as service:
                echo(f"putbridge is running at {service.base_url}")
                _wait_for_first_sync(service, echo)
                _open_one_link(workdir / "library", echo)
                _follow_drop(service, workdir, echo, transfer_timeout)
                echo(f"{service.client.request_count} put.io API requests in all.")
                if serve_until is not None:
                    serve_until()
    finally:
        emu.close()


class _ShownScans:
    """No media server configured: print the rescans putbridge would ask for."""

    def __init__(self, echo: Callable[[str], None], roots: list) -> None:
        self.echo = echo
        self.roots = roots

    def notify(self, paths: list[Path], *, transfer_id: int | None = None, removed: bool = False):
        folders = scan_folders(paths, self.roots)
        if folders:
            self.echo(f"  a media server would be asked to rescan {len(folders)} folders:")
            for folder in folders:
                self.echo(f"    {folder}")
        return folders


def _demo_settings(workdir: Path, server: EmulatorServer, token: str) -> Settings:
    import socket

    with socket.socket() as sock:  # the links and the callback URL need the port up front
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings()
    settings.putio.token = token
    settings.putio.api_url = server.api_url
    settings.putio.upload_url = server.upload_url
    settings.server.listen = f"127.0.0.1:{port}"
    settings.server.public_url = f"http://127.0.0.1:{port}"
    settings.server.callback = True  # the emulator can reach us: completions arrive at once
    settings.state.dir = str(workdir / "state")
    library = workdir / "library"
    settings.library = [
        LibrarySettings(path=str(library / "Movies"), source="/Movies", layout="movies"),
        LibrarySettings(path=str(library / "TV"), source="/TV", layout="shows"),
    ]
    settings.blackhole = [
        BlackholeSettings(path=str(workdir / "blackhole"), target="/Movies", stable_seconds=0.2)
    ]
    settings.transfers.poll_active = 2.0
    return settings


def _wait_for_first_sync(service: Service, echo: Callable[[str], None]) -> None:
    deadline = time.monotonic() + 60
    while service.last_sync is None and time.monotonic() < deadline:
        time.sleep(0.05)
    root = Path(service.settings.library[0].path).parent
    echo(f"Synced into {root}: {service.last_sync}")
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        echo(f"  {path.relative_to(root)}")


def _follow_drop(
    service: Service, workdir: Path, echo: Callable[[str], None], timeout: float
) -> None:
    blackhole = workdir / "blackhole"
    blackhole.mkdir(parents=True, exist_ok=True)
    temporary = blackhole / f".{DEMO_DROP}.part"
    temporary.write_text(DEMO_MAGNET, encoding="utf-8")
    temporary.replace(blackhole / DEMO_DROP)
    echo(f"Dropped {DEMO_DROP} into {blackhole}")
    deadline = time.monotonic() + timeout
    last = None
    record = None
    while time.monotonic() < deadline:
        record = next(iter(service.ledger.list(limit=1)), None)
        if record is not None:
            state = (record.state, record.putio_status, record.percent)
            if state != last:
                status = f" (put.io: {record.putio_status} {record.percent or 0}%)"
                echo(f"  {record.state:<12}{status if record.putio_status else ''}")
                last = state
            if record.state in ("in_library", "scanned", "failed", "cancelled"):
                break
        time.sleep(0.1)
    if record is None or record.state not in ("in_library", "scanned"):
        echo(f"The drop did not reach the library within {timeout:.0f} s")
        return
    where = "processed/" if (blackhole / "processed" / DEMO_DROP).exists() else "?"
    echo(f"The drop moved to {where}; put.io transfer {record.putio_id} is in the library:")
    for path in record.library_paths:
        echo(f"  + {path}")


def _open_one_link(root: Path, echo: Callable[[str], None]) -> None:
    strm = next(iter(sorted(root.rglob("*.strm"))), None)
    if strm is None:
        return
    url = strm.read_text(encoding="utf-8").strip()
    echo(f"{strm.name} holds {url}")
    answer = requests.get(url, allow_redirects=False, timeout=10)
    echo(f"  a player opening it gets {answer.status_code} -> {answer.headers.get('Location')}")
    media = requests.get(url, headers={"Range": "bytes=0-15"}, timeout=10)
    echo(f"  and then {media.status_code} with {len(media.content)} bytes of the video")


def _show_account(client: PutioClient, echo: Callable[[str], None]) -> None:
    started = time.monotonic()
    before = client.request_count
    files = list(client.iter_files(parent_id=-1))
    took = time.monotonic() - started
    tree = PutioTree(files)
    paths = {f.id: "/" + "/".join(tree.parts(f.id)) for f in files}
    videos = [f for f in files if f.is_video]
    echo(
        f"Listed {len(files)} files and folders in {client.request_count - before} request(s), "
        f"{took:.2f} s; {len(videos)} videos:"
    )
    for video in sorted(videos, key=lambda f: paths[f.id]):
        echo(f"  {paths[video.id]}  ({_size(video.size)}, crc32 {video.crc32})")


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
