"""`putbridge demo`: the pipeline against the bundled emulator, with no account and no network.

It starts the emulator with its sample account, lists the whole account through PutioClient in
one flat listing, syncs it into ``./demo/library`` as .strm files (movies and shows layouts)
while serving the signed stream links, opens one link the way a player would, then starts a
transfer from a magnet link, follows it to the end and syncs just its files into the library.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path

import requests

from putbridge.config import LibrarySettings, Settings
from putbridge.emulator import Emulator, EmulatorServer, RealClock
from putbridge.library.links import LinkSigner, StreamUrlCache, load_or_create_secret
from putbridge.library.sync import LibrarySync, library_sync_from_settings
from putbridge.library.tree import PutioTree
from putbridge.putio import PutioClient
from putbridge.store import Store

DEMO_MAGNET = (
    "magnet:?xt=urn:btih:c9e15763f722f23e98a29decdfae341b98d53056"
    "&dn=Cosmos.Laundromat.2015.1080p.WEB.mkv"
)


def run_demo(
    echo: Callable[[str], None],
    *,
    workdir: Path = Path("demo"),
    transfer_timeout: float = 60.0,
    serve_until: Callable[[], None] | None = None,
) -> None:
    """Print what putbridge sees of the sample account, sync it into ``workdir/library``, serve
    the stream links, then follow one transfer into the library.

    ``serve_until``: called (blocking) before shutting down, to keep the links served.
    """
    from webhook import BridgeServer, create_app

    token = secrets.token_urlsafe(18)
    emu = Emulator(token=token, clock=RealClock(), transfer_speed=500_000_000)
    try:
        emu.populate_sample()
        with (
            EmulatorServer(emu) as server,
            PutioClient(token, api_url=server.api_url, upload_url=server.upload_url) as client,
            # The web layer gets its own client: a player should hear "503" quickly, not wait
            # out the sync's patient retries.
            PutioClient(
                token,
                api_url=server.api_url,
                upload_url=server.upload_url,
                max_attempts=2,
                max_rate_limit_wait=0,
            ) as web_client,
            Store(workdir / "state" / "putbridge.db") as store,
        ):
            echo(f"put.io emulator at {server.api_url} (sample account)")
            _show_account(client, echo)
            settings = _demo_settings(workdir)
            signer = LinkSigner(load_or_create_secret(Path(settings.state.dir)))
            cache = StreamUrlCache(web_client.file_url)
            app = create_app(signer=signer, client=web_client, url_cache=cache)
            with BridgeServer(app) as bridge:
                settings.server.public_url = bridge.base_url
                library = library_sync_from_settings(settings, client, store)
                echo(f"putbridge stream links served at {bridge.base_url}")
                _sync_library(library, workdir / "library", echo)
                _open_one_link(workdir / "library", echo)
                _follow_transfer(client, library, echo, transfer_timeout)
                echo(f"{client.request_count} put.io API requests in all.")
                if serve_until is not None:
                    serve_until()
    finally:
        emu.close()


def _demo_settings(workdir: Path) -> Settings:
    settings = Settings()
    settings.state.dir = str(workdir / "state")
    library = workdir / "library"
    settings.library = [
        LibrarySettings(path=str(library / "Movies"), source="/Movies", layout="movies"),
        LibrarySettings(path=str(library / "TV"), source="/TV", layout="shows"),
    ]
    return settings


def _sync_library(library: LibrarySync, root: Path, echo: Callable[[str], None]) -> None:
    report = library.sync_all()
    echo(f"Synced into {root}: {report.summary()}")
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        echo(f"  {path.relative_to(root)}")


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


def _follow_transfer(
    client: PutioClient, library: LibrarySync, echo: Callable[[str], None], timeout: float
) -> None:
    movies = client.find_child(0, "Movies")
    transfer = client.add_transfer(DEMO_MAGNET, save_parent_id=movies.id if movies else None)
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
    report = library.sync_subtree(done.id)
    echo(f"Synced the completed transfer: {report.summary()}")
    for path in report.changed:
        echo(f"  + {path}")


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
