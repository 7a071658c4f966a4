"""from_api() on realistic put.io objects, and on hostile ones."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from putbridge.errors import PutioError
from putbridge.putio import Event, File, OobCode, Subtitle, Transfer
from putbridge.putio.models import parse_timestamp


def file_dict(**overrides):
    data = {
        "id": 12345,
        "name": "Big.Buck.Bunny.2008.1080p.mkv",
        "parent_id": 0,
        "file_type": "VIDEO",
        "content_type": "video/x-matroska",
        "size": 725106140,
        "crc32": "66a1512f",
        "created_at": "2013-09-07T21:32:03",
        "updated_at": "2013-09-08T10:00:00",
        "first_accessed_at": None,
        "is_mp4_available": True,
        "is_shared": False,
        "is_hidden": False,
        "screenshot": "https://put.io/screenshots/abc.jpg",
        "icon": "https://api.put.io/images/file_types/video.png",
        "opensubtitles_hash": "acc2785ffa573c69",
        "extension": "mkv",
        "folder_type": "REGULAR",
        "video_metadata": {"width": 1920, "height": 1080},
    }
    data.update(overrides)
    return data


def transfer_dict(**overrides):
    data = {
        "id": 36003178,
        "name": "Big Buck Bunny",
        "hash": "dd8255ecdc7ca55fb0bbf81323d87062db1f6d1c",
        "type": "TORRENT",
        "status": "COMPLETED",
        "source": "magnet:?xt=urn:btih:dd8255ecdc7ca55fb0bbf81323d87062db1f6d1c",
        "save_parent_id": 0,
        "file_id": 12345,
        "size": 276445467,
        "downloaded": 276445467,
        "uploaded": 0,
        "percent_done": 100,
        "down_speed": 0,
        "up_speed": 0,
        "estimated_time": None,
        "current_ratio": "0.00",
        "seconds_seeding": 0,
        "error_message": None,
        "created_at": "2016-07-15T09:45:15",
        "started_at": "2016-07-15T09:45:16",
        "finished_at": "2016-07-15T09:50:00",
        "callback_url": "http://bridge.local/putio/callback/s3cr",
        "status_message": "Completed 4 mins ago.",
        "torrent_link": "/v2/transfers/36003178/torrent",
        "links": [{"label": "torrent", "url": None}],
        "is_private": False,
    }
    data.update(overrides)
    return data


def test_file_from_realistic_dict():
    f = File.from_api(file_dict())
    assert f.id == 12345
    assert f.name == "Big.Buck.Bunny.2008.1080p.mkv"
    assert f.parent_id == 0
    assert f.size == 725106140
    assert f.crc32 == "66a1512f"
    assert f.created_at == datetime(2013, 9, 7, 21, 32, 3, tzinfo=UTC)
    assert f.updated_at == datetime(2013, 9, 8, 10, 0, 0, tzinfo=UTC)
    assert f.is_mp4_available is True
    assert f.opensubtitles_hash == "acc2785ffa573c69"
    assert f.is_video and not f.is_folder
    assert not hasattr(f, "icon")  # unknown keys are ignored


def test_file_is_frozen_and_hashable():
    f = File.from_api(file_dict())
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.name = "other"  # type: ignore[misc]
    assert {f, File.from_api(file_dict())} == {f}


def test_root_folder_has_no_parent_and_nullables_accept_none():
    root = File.from_api(
        file_dict(
            id=0,
            name="root",
            parent_id=None,
            file_type="FOLDER",
            content_type="application/x-directory",
            crc32=None,
            screenshot=None,
            opensubtitles_hash=None,
            extension=None,
        )
    )
    assert root.parent_id is None
    assert root.is_folder and not root.is_video
    assert root.crc32 is None and root.extension is None


def test_minimal_file_takes_defaults():
    f = File.from_api({"id": 1, "name": "a", "file_type": "TEXT"})
    assert (f.size, f.parent_id, f.created_at, f.is_shared) == (0, None, None, False)


@pytest.mark.parametrize(
    ("file_type", "extension", "name", "expected"),
    [
        ("VIDEO", None, "x", True),
        ("FILE", "mkv", "x.mkv", True),
        ("FILE", ".MP4", "x", True),
        ("FILE", None, "movie.AVI", True),
        ("FILE", "nfo", "x.nfo", False),
        ("FILE", None, "README", False),
        ("AUDIO", "mp3", "x.mp3", False),
        ("FOLDER", None, "x.mkv", False),
    ],
)
def test_is_video(file_type, extension, name, expected):
    f = File.from_api(file_dict(file_type=file_type, extension=extension, name=name))
    assert f.is_video is expected


def test_crc32_is_normalised_to_lowercase():
    assert File.from_api(file_dict(crc32="66A1512F")).crc32 == "66a1512f"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2013-09-07T21:32:03", datetime(2013, 9, 7, 21, 32, 3, tzinfo=UTC)),
        ("2013-09-07T21:32:03Z", datetime(2013, 9, 7, 21, 32, 3, tzinfo=UTC)),
        ("2013-09-07 21:32:03", datetime(2013, 9, 7, 21, 32, 3, tzinfo=UTC)),
        ("2013-09-07T21:32:03.250", datetime(2013, 9, 7, 21, 32, 3, 250000, tzinfo=UTC)),
        ("2013-09-07T21:32:03.123456789Z", datetime(2013, 9, 7, 21, 32, 3, 123456, tzinfo=UTC)),
        ("2013-09-07T23:32:03+02:00", datetime(2013, 9, 7, 21, 32, 3, tzinfo=UTC)),
        ("yesterday", None),
        ("2013-13-07T21:32:03", None),
        ("2013-09-07", None),
        ("", None),
    ],
)
def test_parse_timestamp(text, expected):
    parsed = parse_timestamp(text)
    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset().total_seconds() == 0


HOSTILE_FILES = [
    ("id", "abc"),
    ("id", True),
    ("id", 1.5),
    ("id", None),
    ("name", None),
    ("name", 42),
    ("name", {"nested": ["junk"]}),
    ("file_type", 7),
    ("file_type", ""),
    ("file_type", None),
    ("size", -1),
    ("size", "12"),
    ("size", True),
    ("size", float("nan")),
    ("size", None),
    ("parent_id", "0"),
    ("parent_id", [0]),
    ("created_at", "yesterday"),
    ("created_at", 1378589523),
    ("updated_at", "2013-02-30T00:00:00"),
    ("is_mp4_available", "true"),
    ("is_mp4_available", 1),
    ("is_hidden", None),
    ("crc32", "xyz"),
    ("crc32", 1722937647),
    ("content_type", ["video/mp4"]),
    ("extension", {"ext": "mkv"}),
]


@pytest.mark.parametrize(("key", "value"), HOSTILE_FILES)
def test_malformed_file_names_model_and_field(key, value):
    with pytest.raises(PutioError) as info:
        File.from_api(file_dict(**{key: value}))
    message = str(info.value)
    assert message.startswith("put.io sent a File with a bad")
    assert repr(key) in message


@pytest.mark.parametrize("key", ["id", "name", "file_type"])
def test_file_missing_required_key(key):
    data = file_dict()
    del data[key]
    with pytest.raises(PutioError, match=f"File without '{key}'"):
        File.from_api(data)


@pytest.mark.parametrize("data", [None, [], "file", 12, [("id", 1)]])
def test_file_that_is_not_an_object(data):
    with pytest.raises(PutioError, match="File that is not a JSON object"):
        File.from_api(data)


def test_long_bad_value_is_truncated_in_message():
    with pytest.raises(PutioError) as info:
        File.from_api(file_dict(size="9" * 5000))
    assert len(str(info.value)) < 150
    assert str(info.value).endswith("...")


def test_transfer_from_realistic_dict():
    t = Transfer.from_api(transfer_dict())
    assert t.id == 36003178
    assert t.hash == "dd8255ecdc7ca55fb0bbf81323d87062db1f6d1c"
    assert t.type == "TORRENT" and t.status == "COMPLETED"
    assert t.file_id == 12345 and t.save_parent_id == 0
    assert t.size == 276445467 and t.downloaded == 276445467
    assert t.percent_done == 100.0
    assert t.estimated_time is None
    assert t.current_ratio == 0.0  # put.io has sent it as a string
    assert t.created_at == datetime(2016, 7, 15, 9, 45, 15, tzinfo=UTC)
    assert t.finished_at == datetime(2016, 7, 15, 9, 50, 0, tzinfo=UTC)
    assert t.callback_url == "http://bridge.local/putio/callback/s3cr"
    assert t.status_message == "Completed 4 mins ago."
    assert t.is_finished and t.is_terminal


@pytest.mark.parametrize(
    ("status", "file_id", "finished", "terminal"),
    [
        ("COMPLETED", 5, True, True),
        ("SEEDING", 5, True, True),
        ("COMPLETED", None, False, True),
        ("ERROR", None, False, True),
        ("DOWNLOADING", None, False, False),
        ("IN_QUEUE", None, False, False),
        ("SOME_NEW_STATUS", None, False, False),
    ],
)
def test_transfer_states(status, file_id, finished, terminal):
    t = Transfer.from_api(transfer_dict(status=status, file_id=file_id))
    assert t.status == status
    assert (t.is_finished, t.is_terminal) == (finished, terminal)


def test_fresh_transfer_with_only_id_and_name():
    t = Transfer.from_api({"id": 7, "name": "ubuntu.iso"})
    assert t.status == "WAITING" and t.file_id is None and t.started_at is None
    assert not t.is_terminal


def test_transfer_error_with_nulls():
    t = Transfer.from_api(
        transfer_dict(
            status="ERROR",
            error_message="Unable to connect",
            file_id=None,
            hash=None,
            started_at=None,
            finished_at=None,
            size=None,
            downloaded=None,
            percent_done=None,
            current_ratio=None,
        )
    )
    assert t.error_message == "Unable to connect"
    assert t.size is None and t.current_ratio is None and t.started_at is None


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("id", "36003178"),
        ("status", 3),
        ("status", ""),
        ("file_id", "12345"),
        ("file_id", False),
        ("size", -5),
        ("size", "100"),
        ("percent_done", "50"),
        ("percent_done", float("inf")),
        ("down_speed", True),
        ("current_ratio", "lots"),
        ("current_ratio", [1]),
        ("created_at", "2016-07-15"),
        ("finished_at", {"when": "now"}),
        ("hash", 1234),
        ("error_message", 500),
    ],
)
def test_malformed_transfer(key, value):
    with pytest.raises(PutioError, match=f"Transfer with a bad '{key}'"):
        Transfer.from_api(transfer_dict(**{key: value}))


def test_subtitle_event_and_oob_code():
    sub = Subtitle.from_api(
        {
            "key": "key0",
            "language": "Turkish",
            "language_code": "tur",
            "name": "Big Buck Bunny",
            "source": "opensubtitles",
            "format": "srt",
            "url": "https://api.put.io/v2/files/1/subtitles/key0",
            "extra": 1,
        }
    )
    assert (sub.key, sub.language_code, sub.source) == ("key0", "tur", "opensubtitles")

    event = Event.from_api(
        {
            "id": 9,
            "type": "transfer_completed",
            "user_id": 1,
            "created_at": "2016-06-16 11:12:57",
            "transfer_name": "Bunny",
            "file_id": 12345,
            "source": "magnet:?xt=x",
        }
    )
    assert event.created_at == datetime(2016, 6, 16, 11, 12, 57, tzinfo=UTC)
    assert event.data["file_id"] == 12345 and "id" not in event.data
    with pytest.raises(TypeError):
        event.data["file_id"] = 1  # type: ignore[index]
    hash(event)  # data holds a mapping, yet the event stays hashable

    code = OobCode.from_api({"status": "OK", "code": "A1B2C3", "qr_code_url": "https://x/qr"})
    assert code == OobCode(code="A1B2C3", qr_code_url="https://x/qr")


@pytest.mark.parametrize(
    ("model", "data", "field"),
    [
        (Subtitle, {"key": 3}, "key"),
        (Subtitle, {"key": "k", "language": ["tr"]}, "language"),
        (Event, {"id": "1", "type": "upload"}, "id"),
        (Event, {"id": 1, "type": "upload", "created_at": "soon"}, "created_at"),
        (OobCode, {"code": None}, "code"),
        (OobCode, {"code": "X", "qr_code_url": 5}, "qr_code_url"),
    ],
)
def test_malformed_small_models(model, data, field):
    with pytest.raises(PutioError, match=f"{model.__name__} with a bad '{field}'"):
        model.from_api(data)


def test_fast_and_checking_paths_build_the_same_file():
    from putbridge.putio import models

    data = file_dict()
    fast = models._plain_file(File, data)
    assert fast is not None
    checked = File.from_api({**data, "size": float(data["size"])})  # floats take the slow path
    assert models._plain_file(File, {**data, "size": float(data["size"])}) is None
    assert fast == checked
