"""ffprobe, as a media server would run it, reads the emulator's video links and HLS playlists.

ffprobe is required: CI installs ffmpeg, so a missing ffprobe is a failure, not a skip."""

from __future__ import annotations

import pytest

from tests.factories import probe

SAMPLE_SECONDS = 2.0


@pytest.mark.parametrize(("name", "size"), [("Movie.mkv", None), ("Movie.mp4", 50_000_000)])
def test_ffprobe_reads_a_blob_url(ffprobe, http, emulator, emulator_server, name, size):
    file_id = emulator.add_path(f"/Movies/Movie (2020)/{name}", size=size)
    url = http.get(f"{emulator_server.api_url}/files/{file_id}/url").json()["url"]
    info = probe(ffprobe, url)
    assert float(info["format"]["duration"]) == pytest.approx(SAMPLE_SECONDS, abs=0.25)
    codecs = {stream["codec_name"] for stream in info["streams"]}
    assert {"h264", "aac"} <= codecs


def test_ffprobe_reads_the_hls_playlist(ffprobe, emulator, emulator_server):
    file_id = emulator.add_file("Movie.mkv", size=700_000_000)
    url = f"{emulator_server.api_url}/files/{file_id}/hls/media.m3u8?oauth_token={emulator.token}"
    info = probe(ffprobe, url)
    assert float(info["format"]["duration"]) == pytest.approx(SAMPLE_SECONDS, abs=0.25)
    assert any(stream["codec_type"] == "video" for stream in info["streams"])
