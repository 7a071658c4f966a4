"""Test data builders shared by several test files."""

from __future__ import annotations

import io
import json
import subprocess

import torf


def make_torrent(tmp_path, files: dict[str, bytes], name: str = "Pack") -> bytes:
    """A real .torrent made by torf from ``files`` written under tmp_path/name.

    One file gives a single-file torrent of that file; more give a folder torrent named ``name``.
    """
    root = tmp_path / name
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    target = root if len(files) > 1 else root / next(iter(files))
    torrent = torf.Torrent(path=target, trackers=["http://tracker.invalid/announce"])
    torrent.generate()
    return torrent.dump()


def infohash(torrent_bytes: bytes) -> str:
    """The lowercase hex info-hash of a bencoded .torrent."""
    return torf.Torrent.read_stream(io.BytesIO(torrent_bytes)).infohash.lower()


def probe(ffprobe: str, url: str) -> dict:
    """What ffprobe (a real player's demuxer) reads at ``url``: format and streams."""
    result = subprocess.run(
        [ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"ffprobe failed on {url}: {result.stderr}"
    return json.loads(result.stdout)


def probe_duration(ffprobe: str, url: str) -> float:
    return float(probe(ffprobe, url)["format"]["duration"])
