"""Emulator internals without HTTP: checksum arithmetic, generated content, file types, the
Python API, the seed loader and the clocks."""

from __future__ import annotations

import json
import socket
import threading
import zlib

import pytest

from putbridge.emulator import ApiError, Emulator, ManualClock, RealClock
from putbridge.emulator.checksums import crc32_combine, crc32_repeat, crc32_zero_extend
from putbridge.emulator.media import RepeatContent, asset, generate_content, guess_file_type
from putbridge.emulator.torrents import parse_magnet
from putbridge.errors import ConfigError


@pytest.mark.parametrize("count", [0, 1, 3, 8, 255, 256, 65537, 1_000_003])
def test_crc32_zero_extension_matches_zlib(count):
    data = b"putbridge"
    assert crc32_zero_extend(zlib.crc32(data), count) == zlib.crc32(data + bytes(count))


@pytest.mark.parametrize("size", [0, 1, 9, 10, 11, 99, 1000, 123_457])
def test_crc32_repeat_and_combine_match_zlib(size):
    unit = b"0123456789"
    expected = (unit * (size // len(unit) + 1))[:size]
    assert crc32_repeat(unit, size) == zlib.crc32(expected)
    assert crc32_combine(zlib.crc32(b"abc"), zlib.crc32(b"defg"), 4) == zlib.crc32(b"abcdefg")


@pytest.mark.parametrize(
    ("name", "size"),
    [("a.mkv", None), ("a.mkv", 100), ("a.mp4", 1_000_000), ("a.txt", None), ("a.srt", 5000),
     ("cover.jpg", 70_000), ("x.bin", 333)],
)  # fmt: skip
def test_generated_content_checksums_match_its_bytes(name, size):
    content = generate_content(name, size)
    data = content.read()
    assert len(data) == content.size
    if size is not None:
        assert content.size == size
    assert content.crc32 == f"{zlib.crc32(data):08x}"
    pieces = b"".join(content.iter_bytes(0, content.size, chunk=777))
    assert pieces == data
    assert content.read(5, 50) == data[5:50]


def test_video_content_starts_with_the_sample_and_pads_with_zeros():
    content = generate_content("Movie.mp4", 1_000_000)
    sample = asset("sample.mp4")
    assert content.read(0, len(sample)) == sample
    assert content.read(len(sample), len(sample) + 1000) == bytes(1000)
    assert generate_content("Movie.mkv").size == len(asset("sample.mkv"))


def test_repeat_content_reads_any_range():
    content = RepeatContent(b"abc", 10)
    assert content.read() == b"abcabcabca"
    assert content.read(4, 9) == b"bcabc"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.MKV", "VIDEO"), ("a.m4v", "VIDEO"), ("a.srt", "TEXT"), ("a.nfo", "TEXT"),
     ("a.png", "IMAGE"), ("a.rar", "ARCHIVE"), ("a.flac", "AUDIO"), ("a.pdf", "PDF"),
     ("a.xyz", "FILE"), ("noext", "FILE")],
)  # fmt: skip
def test_file_type_guessing(name, expected):
    assert guess_file_type(name) == expected


def test_add_path_creates_folders_once(emulator):
    first = emulator.add_path("/Movies/Foo (2010)/Foo.mkv", size=10)
    second = emulator.add_path("/Movies/Foo (2010)/Foo.en.srt")
    assert emulator.files[first].parent_id == emulator.files[second].parent_id
    assert emulator.file_by_path("/Movies/Foo (2010)/Foo.mkv") == first
    assert emulator.file_by_path("/Movies/Nope") is None
    assert emulator.path_of(second) == "/Movies/Foo (2010)/Foo.en.srt"
    assert emulator.files[emulator.file_by_path("/Movies")].size == 10 + emulator.files[second].size


def test_add_file_with_explicit_type_and_content(emulator):
    file_id = emulator.add_file("weird.bin", content=b"abc", file_type="VIDEO")
    record = emulator.files[file_id]
    assert record.file_type == "VIDEO" and record.size == 3
    with pytest.raises(ApiError):
        emulator.add_folder("bad/name")
    with pytest.raises(ApiError):
        emulator.add_file("x.txt", parent_id=file_id)


def test_populate_sample(emulator):
    emulator.populate_sample()
    files = emulator.files.values()
    videos = [f for f in files if f.file_type == "VIDEO"]
    assert len(videos) >= 8
    names = {f.name for f in files}
    assert any(n.endswith(".srt") for n in names) and any(n.endswith(".nfo") for n in names)
    assert any(n.endswith(".txt") for n in names) and "Sample" in names
    assert {"Season 01", "Season 02"} <= names
    assert any(f.file_type in ("AUDIO", "PDF", "ARCHIVE") for f in files)
    before = len(emulator.files)
    emulator.populate_sample()  # idempotent
    assert len(emulator.files) == before


def test_load_seed_from_a_file(tmp_path, emulator):
    seed = {
        "token": "seeded-token",
        "files": ["/Movies/A (2001)/A.mkv", {"path": "/Docs/n.txt", "content": "hello"}],
        "folders": ["/Empty"],
        "dead": ["badhash"],
        "settings": {"default_download_folder": 0},
    }
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed))
    emulator.load_seed(path)
    assert emulator.file_by_path("/Movies/A (2001)/A.mkv") is not None
    assert emulator.files[emulator.file_by_path("/Docs/n.txt")].content.read() == b"hello"
    assert emulator.file_by_path("/Empty") is not None
    assert emulator.token_id("seeded-token") is not None
    assert emulator.token_id(emulator.token) is not None
    transfer_id = emulator.add_transfer("magnet:?xt=urn:btih:" + "a" * 40 + "&dn=badhash")
    emulator.clock.advance(5)
    assert emulator.transfers[transfer_id].status == "ERROR"


def test_load_seed_with_sample_and_sizes(emulator):
    emulator.load_seed({"sample": True, "files": [{"path": "/Big.mkv", "size": 10**10}]})
    assert emulator.files[emulator.file_by_path("/Big.mkv")].size == 10**10
    assert emulator.file_by_path("/TV") is not None


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ({"filez": []}, "unknown seed keys: filez"),
        ({"files": [{"size": 3}]}, "needs a 'path'"),
        ({"files": [{"path": "/a", "size": -1}]}, "size must be an integer"),
        ({"files": "nope"}, "'files' must be a list"),
        ([], "must be a JSON object"),
    ],
)
def test_bad_seeds_name_the_problem(emulator, seed, message):
    with pytest.raises(ConfigError, match=message):
        emulator.load_seed(seed)


def test_unreadable_seed_file(tmp_path, emulator):
    with pytest.raises(ConfigError, match="cannot read"):
        emulator.load_seed(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    with pytest.raises(ConfigError, match="not valid JSON"):
        emulator.load_seed(str(broken))


def test_manual_clock_moves_only_when_advanced():
    clock = ManualClock(start=1000.0)
    assert clock.now() == 1000.0
    clock.advance(2.5)
    assert clock.now() == 1002.5
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(TypeError):
        RealClock().advance(1)


def test_advancing_the_clock_ticks_the_emulator():
    emu = Emulator(token="t", clock=ManualClock())
    try:
        transfer_id = emu.add_transfer("magnet:?xt=urn:btih:" + "e" * 40)
        emu.clock.advance(60)
        assert emu._transfers[transfer_id].status == "COMPLETED"  # no request, no tick() call
    finally:
        emu.close()


def test_set_faults_keeps_unspecified_knobs(emulator):
    emulator.set_faults(latency=0.5, error_rate=0.1, rate_limit=(10, 1.0))
    emulator.set_faults(error_rate=0.2)
    assert emulator.faults.latency == 0.5
    assert emulator.faults.rate_limit == (10, 1.0)
    emulator.set_faults(rate_limit=None)
    assert emulator.faults.rate_limit is None and emulator.faults.error_rate == 0.2
    with pytest.raises(ValueError):
        emulator.set_faults(error_rate=2)


def test_parse_magnet():
    magnet = parse_magnet("magnet:?xt=urn:btih:" + "A" * 40 + "&dn=Name%20Here&tr=http%3A%2F%2Ft")
    assert magnet.info_hash == "a" * 40 and magnet.name == "Name Here"
    assert magnet.trackers == ("http://t",)
    with pytest.raises(ApiError):
        parse_magnet("magnet:?xt=urn:sha1:abc")


def test_stats_and_reset(emulator):
    emulator.count_request("GET /files/list")
    assert emulator.stats == {"requests": 1, "by_route": {"GET /files/list": 1}}
    emulator.reset_stats()
    assert emulator.stats == {"requests": 0, "by_route": {}}


def _emulator_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("putio-emulator-")]


def test_close_is_idempotent():
    emu = Emulator(token="t", clock=RealClock())
    file_id = emu.add_file("kept.mkv")
    emu.start_background()
    with socket.socket() as unused:  # a port nothing listens on: the callback fails fast
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    emu._callbacks.send(f"http://127.0.0.1:{port}/callback", {"id": "1"})  # starts the sender
    assert sorted(_emulator_threads()) == ["putio-emulator-callbacks", "putio-emulator-ticker"]
    emu.close()
    assert _emulator_threads() == []  # both joined by the first close
    assert not emu._ticker.running
    emu.close()  # a second close neither raises nor changes anything
    assert _emulator_threads() == []
    emu.start_background()  # a closed emulator does not start its ticker again
    assert _emulator_threads() == []
    assert emu.path_of(file_id) == "/kept.mkv"  # the account is still readable
    assert [e["type"] for e in emu.events] == ["transfer_callback_error"]


def test_close_stops_a_manual_clock_from_ticking_the_emulator():
    clock = ManualClock()
    emu = Emulator(token="t", clock=clock)
    transfer_id = emu.add_transfer("magnet:?xt=urn:btih:" + "e" * 40 + "&xl=10")
    emu.close()
    emu.close()
    clock.advance(60)
    assert emu._transfers[transfer_id].status == "IN_QUEUE"  # no tick ran after close
