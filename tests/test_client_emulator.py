"""PutioClient against the emulator over real HTTP: the two halves agree on the whole surface."""

from __future__ import annotations

import zlib

import pytest
import requests

from putbridge.errors import AuthError, NotFound, PutioError, RateLimited
from putbridge.putio import PutioClient
from tests.conftest import TEST_TOKEN
from tests.factories import infohash, make_torrent


def list_requests(emulator):
    routes = emulator.stats["by_route"]
    return sum(n for route, n in routes.items() if "/files/list" in route)


def test_flat_listing_follows_cursors_in_ceil_n_over_1000_requests(emulator, putio):
    for folder in range(25):
        parent = emulator.add_folder(f"Show {folder:02d}")
        for episode in range(99):
            emulator.add_file(f"Show.S01E{episode:02d}.mkv", parent_id=parent, size=1000)
    emulator.reset_stats()
    files = list(putio.iter_files(parent_id=-1))
    assert len(files) == 25 * 100
    assert len({f.id for f in files}) == 2500
    assert list_requests(emulator) == 3  # ceil(2500 / 1000)
    assert putio.request_count == 3
    assert sum(f.is_folder for f in files) == 25
    assert all(f.is_video for f in files if not f.is_folder)


def test_folder_listing_and_single_file(emulator, putio):
    movies = emulator.add_folder("Movies")
    video = emulator.add_file("Heat (1995).mkv", parent_id=movies)
    emulator.add_file("notes.txt", parent_id=movies, content=b"hello")
    parent, children = putio.list_files(movies)
    assert parent.id == movies and parent.is_folder
    assert sorted(c.name for c in children) == ["Heat (1995).mkv", "notes.txt"]
    heat = putio.get_file(video)
    assert heat.name == "Heat (1995).mkv" and heat.parent_id == movies
    assert heat.file_type == "VIDEO" and heat.is_video
    assert putio.find_child(movies, "notes.txt").size == 5
    assert putio.find_child(movies, "absent.txt") is None
    with pytest.raises(NotFound):
        putio.get_file(999_999)


def test_download_bytes_match_crc32_and_range_works(emulator, putio):
    file_id = emulator.add_file("Movie.mp4")
    file = putio.get_file(file_id)
    url = putio.file_url(file_id)
    whole = requests.get(url, timeout=10)
    assert whole.status_code == 200
    assert len(whole.content) == file.size
    assert f"{zlib.crc32(whole.content):08x}" == file.crc32
    part = requests.get(url, headers={"Range": "bytes=10-19"}, timeout=10)
    assert part.status_code == 206
    assert part.content == whole.content[10:20]
    redirect = requests.get(
        putio.download_url(file_id, with_token=True), allow_redirects=False, timeout=10
    )
    assert redirect.status_code == 302
    assert requests.get(redirect.headers["Location"], timeout=10).content == whole.content


def test_hls_and_subtitles(emulator, putio):
    folder = emulator.add_folder("Film")
    video = emulator.add_file("Film.mkv", parent_id=folder)
    emulator.add_file(
        "Film.en.srt", parent_id=folder, content=b"1\n00:00:00,000 --> 00:00:01,000\nHi\n"
    )
    playlist = requests.get(putio.hls_url(video, with_token=True), timeout=10)
    assert playlist.status_code == 200 and playlist.text.startswith("#EXTM3U")
    default, subtitles = putio.list_subtitles(video)
    assert subtitles and default in {s.key for s in subtitles}
    text = putio.download_subtitle(video, default)
    assert b"-->" in text


def test_magnet_transfer_runs_to_completion(emulator, putio):
    target = emulator.add_folder("Downloads")
    magnet = "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=Some.Movie.2020.mkv"
    transfer = putio.add_transfer(magnet, save_parent_id=target)
    assert transfer.status in {"IN_QUEUE", "WAITING"} and transfer.hash == magnet[20:60]
    seen = set()
    for _ in range(200):
        emulator.clock.advance(1)
        transfer = putio.get_transfer(transfer.id)
        seen.add(transfer.status)
        if transfer.is_terminal:
            break
    assert transfer.status == "COMPLETED" and transfer.is_finished
    assert {"DOWNLOADING", "COMPLETED"} <= seen
    done = putio.get_file(transfer.file_id)
    assert done.parent_id == target and done.name == "Some.Movie.2020.mkv"
    assert [t.id for t in putio.iter_transfers()] == [transfer.id]
    assert putio.clean_transfers() == [transfer.id]
    assert list(putio.iter_transfers()) == []


def test_uploaded_torrent_becomes_a_transfer_with_its_files(emulator, putio, tmp_path):
    data = make_torrent(
        tmp_path,
        {"Show.S01E01.mkv": b"a" * 3000, "Show.S01E02.mkv": b"b" * 3000, "info.nfo": b"x"},
        name="Show.S01.Pack",
    )
    transfer = putio.upload_torrent(data, "Show.S01.Pack.torrent", parent_id=0)
    assert transfer.name == "Show.S01.Pack"
    assert transfer.hash == infohash(data)
    emulator.clock.advance(600)
    transfer = putio.get_transfer(transfer.id)
    assert transfer.is_finished
    folder, children = putio.list_files(transfer.file_id)
    assert folder.name == "Show.S01.Pack" and folder.is_folder
    assert sorted(c.name for c in children) == ["Show.S01E01.mkv", "Show.S01E02.mkv", "info.nfo"]


def test_dead_transfer_errors_then_retry_cancel_remove(emulator, putio):
    emulator.mark_dead("dead.example")
    transfer = putio.add_transfer("http://dead.example/file.mkv")
    emulator.clock.advance(600)
    transfer = putio.get_transfer(transfer.id)
    assert transfer.status == "ERROR" and transfer.error_message
    retried = putio.retry_transfer(transfer.id)
    assert retried.id == transfer.id and retried.status != "ERROR"
    putio.cancel_transfers([transfer.id, 987654])  # unknown ids are ignored
    other = putio.add_transfer("http://fine.example/a.mkv")
    putio.remove_transfers([other.id])
    assert list(putio.iter_transfers()) == []


def test_not_a_torrent_upload_is_refused_clearly(putio):
    with pytest.raises(PutioError) as info:
        putio.upload_torrent(b"this is not bencode", "broken.torrent")
    assert "torrent" in str(info.value).lower()


def test_bad_token_is_an_auth_error_with_the_login_hint(emulator_server):
    with PutioClient(
        "wrong-token-123", api_url=emulator_server.api_url, upload_url=emulator_server.upload_url
    ) as client:
        with pytest.raises(AuthError) as info:
            client.account_info()
    assert info.value.status_code == 401
    assert "putbridge login" in str(info.value)
    assert "wrong-token-123" not in str(info.value)


def test_rate_limit_is_waited_out(emulator, emulator_server):
    emulator.add_file("a.mkv")
    emulator.set_faults(rate_limit=(2, 1.0))
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        import time

        time.sleep(min(seconds, 1.5))

    with PutioClient(
        TEST_TOKEN,
        api_url=emulator_server.api_url,
        upload_url=emulator_server.upload_url,
        sleep=sleep,
    ) as client:
        for _ in range(4):
            assert client.get_file(emulator.file_by_path("/a.mkv")).name == "a.mkv"
    assert slept and all(1 <= s <= 5 for s in slept)
    assert client.request_count > 4


def test_rate_limit_wait_beyond_the_bound_raises(emulator, emulator_server):
    emulator.set_faults(rate_limit=(1, 3600.0))
    with PutioClient(
        TEST_TOKEN,
        api_url=emulator_server.api_url,
        upload_url=emulator_server.upload_url,
        max_rate_limit_wait=5,
        sleep=lambda s: None,
    ) as client:
        client.account_info()
        with pytest.raises(RateLimited):
            client.account_info()


def test_server_errors_are_retried_on_reads(emulator, emulator_server):
    for i in range(30):
        emulator.add_file(f"f{i}.mkv")
    emulator.set_faults(error_rate=0.4)
    with PutioClient(
        TEST_TOKEN,
        api_url=emulator_server.api_url,
        upload_url=emulator_server.upload_url,
        max_attempts=12,
        sleep=lambda s: None,
    ) as client:
        names = [client.get_file(emulator.file_by_path(f"/f{i}.mkv")).name for i in range(30)]
    assert names == [f"f{i}.mkv" for i in range(30)]
    assert client.request_count > 30  # some answers were 5xx and were retried


def test_account_events_and_device_code(emulator, putio):
    info = putio.account_info()
    assert info["username"]
    putio.add_transfer("magnet:?xt=urn:btih:" + "ab" * 20 + "&dn=E.mkv")
    emulator.clock.advance(600)
    events, has_more = putio.list_events()
    assert any(e.type == "transfer_completed" for e in events)
    assert has_more is False
    code = putio.oob_code()
    assert code.code in emulator.pending_codes()
    assert putio.oob_poll(code.code) is None
    token = emulator.approve_code(code.code)
    assert putio.oob_poll(code.code) == token
    with pytest.raises(NotFound):
        putio.oob_poll("NOPE00")
