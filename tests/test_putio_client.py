"""PutioClient against canned HTTP answers: headers, error mapping, retries, paging, endpoints."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import parse_qs

import pytest
import requests

import putbridge
from putbridge.errors import AuthError, NotFound, PutioError, RateLimited, TransientError
from putbridge.putio import PutioClient

API = "https://api.test/v2"
UPLOAD = "https://upload.test/v2"
TOKEN = "client-test-token-8c1f"
NOW = 1_700_000_000.0


def file_json(file_id, name=None, **extra):
    return {
        "id": file_id,
        "name": name or f"file{file_id}.mkv",
        "parent_id": 0,
        "file_type": "VIDEO",
        "size": 100,
        "created_at": "2024-01-02T03:04:05",
        **extra,
    }


def transfer_json(transfer_id, **extra):
    return {"id": transfer_id, "name": f"t{transfer_id}", "status": "DOWNLOADING", **extra}


class Recorder:
    """Stands in for time.sleep: remembers how long the client wanted to wait."""

    def __init__(self):
        self.slept = []

    def __call__(self, seconds):
        self.slept.append(seconds)


@pytest.fixture
def slept():
    return Recorder()


@pytest.fixture
def client(slept):
    with PutioClient(
        TOKEN, api_url=API, upload_url=UPLOAD, sleep=slept, now=lambda: NOW, backoff_cap=5.0
    ) as c:
        yield c


@pytest.fixture
def full_backoff(monkeypatch):
    """Make the jitter deterministic: always wait the whole backoff delay."""
    monkeypatch.setattr(random, "uniform", lambda low, high: high)


def form(request):
    return {key: values[0] for key, values in parse_qs(request.text).items()}


# -- headers and error mapping ---------------------------------------------------------------


def test_headers(client, requests_mock):
    requests_mock.get(f"{API}/account/info", json={"status": "OK", "info": {"username": "me"}})
    assert client.account_info() == {"username": "me"}
    sent = requests_mock.last_request.headers
    assert sent["Authorization"] == f"token {TOKEN}"
    assert sent["User-Agent"] == f"putbridge/{putbridge.__version__}"
    assert sent["Accept"] == "application/json"
    assert "oauth_token" not in requests_mock.last_request.url


def test_no_token_fails_before_sending(requests_mock):
    with PutioClient(None, api_url=API) as c:
        with pytest.raises(AuthError, match="putbridge login"):
            c.get_file(1)
        assert c.request_count == 0
    assert not requests_mock.called


@pytest.mark.parametrize("status", [401, 403])
def test_auth_error_keeps_putio_fields_and_hints_at_login(client, requests_mock, status):
    body = {
        "status": "ERROR",
        "error_type": "invalid_grant",
        "error_message": "Token is revoked",
        "status_code": status,
    }
    requests_mock.get(f"{API}/files/1", status_code=status, json=body)
    with pytest.raises(AuthError) as info:
        client.get_file(1)
    err = info.value
    assert str(err).endswith("run `putbridge login` to link putbridge to your put.io account")
    assert "invalid_grant" in str(err) and "Token is revoked" in str(err)
    assert (err.error_type, err.error_message, err.status_code) == (
        "invalid_grant",
        "Token is revoked",
        status,
    )


def test_404_is_not_found(client, requests_mock):
    requests_mock.get(
        f"{API}/transfers/9",
        status_code=404,
        json={"error_type": "TRANSFER_NOT_FOUND", "status_code": 404},
    )
    with pytest.raises(NotFound) as info:
        client.get_transfer(9)
    assert info.value.error_type == "TRANSFER_NOT_FOUND"
    assert info.value.status_code == 404


def test_other_4xx_is_plain_putio_error(client, requests_mock, slept):
    requests_mock.post(
        f"{API}/files/create-folder",
        status_code=400,
        json={"error_type": "NAME_ALREADY_EXIST", "error_message": "exists", "status_code": 400},
    )
    with pytest.raises(PutioError) as info:
        client.create_folder("Movies")
    assert type(info.value) is PutioError
    assert info.value.error_type == "NAME_ALREADY_EXIST"
    assert "HTTP 400" in str(info.value) and "files/create-folder" in str(info.value)
    assert requests_mock.call_count == 1 and slept.slept == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"text": "<html><body>Bad Gateway</body></html>"},
        {"json": ["not", "an", "object"]},
        {"text": ""},
    ],
)
def test_error_body_that_is_not_a_json_object(client, requests_mock, kwargs):
    requests_mock.get(f"{API}/files/1", status_code=400, reason="Bad Request", **kwargs)
    with pytest.raises(PutioError) as info:
        client.get_file(1)
    assert info.value.error_type is None and info.value.error_message is None
    assert info.value.status_code == 400
    assert "HTTP 400" in str(info.value)


@pytest.mark.parametrize(
    "kwargs", [{"text": "<html>maintenance</html>"}, {"json": [1, 2]}, {"text": ""}]
)
def test_success_body_that_is_not_a_json_object(client, requests_mock, kwargs):
    requests_mock.get(f"{API}/files/1", status_code=200, **kwargs)
    with pytest.raises(PutioError, match="malformed answer to GET files/1"):
        client.get_file(1)


def test_success_without_the_expected_key(client, requests_mock):
    requests_mock.get(f"{API}/files/1", json={"status": "OK"})
    with pytest.raises(PutioError, match="no 'file'"):
        client.get_file(1)


# -- rate limits -----------------------------------------------------------------------------


def test_429_waits_until_reset_and_warns_once(client, requests_mock, slept, caplog):
    limited = {
        "status_code": 429,
        "headers": {"X-RateLimit-Reset": str(int(NOW) + 30), "X-RateLimit-Remaining": "0"},
        "json": {"error_type": "TooManyRequests", "status_code": 429},
    }
    ok = {"json": {"status": "OK", "file": file_json(1)}}
    requests_mock.get(f"{API}/files/1", [limited, limited, limited, ok])
    with caplog.at_level(logging.INFO, logger="putbridge.putio"):
        assert client.get_file(1).id == 1
    assert slept.slept == [30.0, 30.0, 30.0]
    assert requests_mock.call_count == 4
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "rate limit" in warnings[0].getMessage()


def test_one_warning_per_episode_across_calls(client, requests_mock, caplog):
    limited = {"status_code": 429, "headers": {"Retry-After": "2"}}
    ok = {"json": {"status": "OK", "file": file_json(1)}}
    requests_mock.get(f"{API}/files/1", [limited, ok, limited, ok])
    with caplog.at_level(logging.WARNING, logger="putbridge.putio"):
        client.get_file(1)  # episode 1 ends with this success
        client.get_file(1)  # a new episode warns again
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2


def test_429_with_retry_after_seconds(client, requests_mock, slept):
    requests_mock.get(
        f"{API}/files/1",
        [
            {"status_code": 429, "headers": {"Retry-After": "12"}},
            {"json": {"status": "OK", "file": file_json(1)}},
        ],
    )
    client.get_file(1)
    assert slept.slept == [12.0]


def test_429_with_retry_after_http_date(client, requests_mock, slept):
    when = format_datetime(datetime.fromtimestamp(NOW + 45, UTC), usegmt=True)
    requests_mock.get(
        f"{API}/files/1",
        [
            {"status_code": 429, "headers": {"Retry-After": when}},
            {"json": {"status": "OK", "file": file_json(1)}},
        ],
    )
    client.get_file(1)
    assert slept.slept == [45.0]


def test_429_prefers_retry_after_over_a_skewed_reset(client, requests_mock, slept):
    # Our clock runs an hour behind put.io's: the epoch reset would mean a 3,600 s wait.
    requests_mock.get(
        f"{API}/files/1",
        [
            {
                "status_code": 429,
                "headers": {"Retry-After": "5", "X-RateLimit-Reset": str(int(NOW) + 3605)},
                "json": {"error_type": "RATE_LIMIT_ERROR", "retry_after": 20},
            },
            {"json": {"status": "OK", "file": file_json(1)}},
        ],
    )
    client.get_file(1)
    assert slept.slept == [5.0]


def test_429_body_retry_after_is_used_when_no_header_is(client, requests_mock, slept):
    requests_mock.get(
        f"{API}/files/1",
        [
            {"status_code": 429, "json": {"error_type": "RATE_LIMIT_ERROR", "retry_after": 20}},
            {"json": {"status": "OK", "file": file_json(1)}},
        ],
    )
    client.get_file(1)
    assert slept.slept == [20.0]


def test_429_waits_of_one_call_are_bounded_in_total(requests_mock, slept):
    client = PutioClient(
        TOKEN, api_url=API, upload_url=UPLOAD, sleep=slept, now=lambda: NOW, max_rate_limit_wait=100
    )
    requests_mock.get(f"{API}/files/1", status_code=429, headers={"Retry-After": "40"}, json={})
    with pytest.raises(RateLimited, match="after 80 s of waiting already"):
        client.get_file(1)
    assert slept.slept == [40.0, 40.0]


def test_429_never_waits_less_than_a_second(client, requests_mock, slept):
    past = {"status_code": 429, "headers": {"X-RateLimit-Reset": str(int(NOW) - 100)}}
    zero = {"status_code": 429, "headers": {"Retry-After": "0"}}
    ok = {"json": {"status": "OK", "file": file_json(1)}}
    requests_mock.get(f"{API}/files/1", [past, zero, ok])
    client.get_file(1)
    assert len(slept.slept) == 2 and all(s >= 1.0 for s in slept.slept)


def test_429_wait_beyond_the_maximum_raises(client, requests_mock, slept):
    requests_mock.get(
        f"{API}/files/1",
        status_code=429,
        headers={"X-RateLimit-Reset": str(int(NOW) + 3600)},
        json={"error_type": "TooManyRequests"},
    )
    with pytest.raises(RateLimited) as info:
        client.get_file(1)
    assert info.value.retry_after == 3600.0
    assert info.value.error_type == "TooManyRequests" and info.value.status_code == 429
    assert slept.slept == [] and requests_mock.call_count == 1


def test_429_retries_are_bounded(client, requests_mock, slept):
    requests_mock.get(f"{API}/files/1", status_code=429, headers={"Retry-After": "1"})
    with pytest.raises(RateLimited, match="still refuses"):
        client.get_file(1)
    assert requests_mock.call_count == 11
    assert slept.slept == [1.0] * 10


def test_429_is_retried_even_for_transfers_add(client, requests_mock, slept):
    requests_mock.post(
        f"{API}/transfers/add",
        [
            {"status_code": 429, "headers": {"Retry-After": "3"}},
            {"json": {"status": "OK", "transfer": transfer_json(5)}},
        ],
    )
    assert client.add_transfer("magnet:?xt=urn:btih:abc").id == 5
    assert slept.slept == [3.0]


# -- 5xx and network errors ------------------------------------------------------------------


def test_5xx_retried_with_growing_capped_backoff(client, requests_mock, slept, full_backoff):
    fail = {"status_code": 503, "json": {"error_type": "ServiceUnavailable"}}
    requests_mock.get(f"{API}/files/1", [fail] * 4 + [{"json": {"file": file_json(1)}}])
    assert client.get_file(1).id == 1
    assert slept.slept == [1.0, 2.0, 4.0, 5.0]  # base 1, doubled, capped at 5
    assert client.request_count == 5


def test_5xx_gives_up_after_max_attempts(client, requests_mock, slept, full_backoff):
    requests_mock.get(f"{API}/files/1", status_code=500, json={"error_type": "INTERNAL"})
    with pytest.raises(TransientError) as info:
        client.get_file(1)
    assert requests_mock.call_count == 5
    assert len(slept.slept) == 4 and max(slept.slept) <= 5.0
    assert info.value.status_code == 500 and info.value.error_type == "INTERNAL"
    assert "after 5 attempts" in str(info.value)


def test_jitter_stays_within_the_delay(client, requests_mock, slept):
    requests_mock.get(f"{API}/files/1", status_code=502)
    with pytest.raises(TransientError):
        client.get_file(1)
    assert all(0 <= s <= cap for s, cap in zip(slept.slept, [1, 2, 4, 5], strict=True))


@pytest.mark.parametrize(
    "exc", [requests.exceptions.ConnectTimeout, requests.ConnectionError, requests.ReadTimeout]
)
def test_network_errors_retried_on_get(client, requests_mock, slept, exc):
    requests_mock.get(
        f"{API}/files/1", [{"exc": exc}, {"exc": exc}, {"json": {"file": file_json(1)}}]
    )
    assert client.get_file(1).id == 1
    assert len(slept.slept) == 2 and client.request_count == 3


def test_network_errors_give_up(client, requests_mock):
    requests_mock.get(f"{API}/files/1", exc=requests.ConnectionError("connection refused"))
    with pytest.raises(TransientError, match="connection refused") as info:
        client.get_file(1)
    assert info.value.status_code is None
    assert isinstance(info.value.__cause__, requests.ConnectionError)
    assert requests_mock.call_count == 5


def test_transfers_add_is_never_retried_on_5xx(client, requests_mock, slept):
    requests_mock.post(f"{API}/transfers/add", status_code=500)
    with pytest.raises(TransientError, match="not retried"):
        client.add_transfer("magnet:?xt=urn:btih:abc")
    assert requests_mock.call_count == 1 and slept.slept == []


def test_transfers_add_is_never_retried_on_timeout(client, requests_mock, slept):
    requests_mock.post(f"{API}/transfers/add", exc=requests.ReadTimeout)
    with pytest.raises(TransientError):
        client.add_transfer("https://example.com/x.torrent")
    assert requests_mock.call_count == 1 and slept.slept == []


def test_upload_is_never_retried_on_5xx(client, requests_mock, slept):
    requests_mock.post(f"{UPLOAD}/files/upload", status_code=502)
    with pytest.raises(TransientError):
        client.upload_torrent(b"d4:infod4:name1:xee", "x.torrent")
    assert requests_mock.call_count == 1 and slept.slept == []


def test_request_count_counts_every_attempt(client, requests_mock):
    requests_mock.get(
        f"{API}/files/1",
        [
            {"status_code": 429, "headers": {"Retry-After": "1"}},
            {"status_code": 503},
            {"exc": requests.ConnectionError},
            {"json": {"file": file_json(1)}},
        ],
    )
    client.get_file(1)
    assert client.request_count == 4


# -- paging ----------------------------------------------------------------------------------


def test_iter_files_follows_cursors_lazily(client, requests_mock):
    requests_mock.get(
        f"{API}/files/list",
        json={"files": [file_json(1), file_json(2)], "parent": None, "cursor": "c1"},
    )
    requests_mock.post(
        f"{API}/files/list/continue",
        [
            {"json": {"files": [file_json(3), file_json(4)], "cursor": "c2"}},
            {"json": {"files": [file_json(5)], "cursor": None}},
        ],
    )
    files = client.iter_files(per_page=2)
    assert requests_mock.call_count == 0
    assert next(files).id == 1
    assert next(files).id == 2
    assert requests_mock.call_count == 1  # page 2 waits until page 1 is used up
    assert next(files).id == 3
    assert requests_mock.call_count == 2
    assert [f.id for f in files] == [4, 5]
    first, second, third = requests_mock.request_history
    assert first.method == "GET"
    assert first.qs == {"parent_id": ["-1"], "per_page": ["2"]}
    assert (second.method, form(second)) == ("POST", {"cursor": "c1", "per_page": "2"})
    assert form(third) == {"cursor": "c2", "per_page": "2"}


def test_iter_files_passes_filters(client, requests_mock):
    requests_mock.get(f"{API}/files/list", json={"files": [], "cursor": None})
    assert list(client.iter_files(7, file_type=["FOLDER", "VIDEO"], sort_by="NAME_ASC")) == []
    assert requests_mock.last_request.qs == {
        "parent_id": ["7"],
        "per_page": ["1000"],
        "file_type": ["folder,video"],
        "sort_by": ["name_asc"],
    }


def test_repeated_cursor_is_an_error(client, requests_mock):
    requests_mock.get(f"{API}/files/list", json={"files": [], "cursor": "same"})
    requests_mock.post(f"{API}/files/list/continue", json={"files": [], "cursor": "same"})
    with pytest.raises(PutioError, match="same cursor"):
        list(client.iter_files())


def test_list_files_returns_parent_and_all_pages(client, requests_mock):
    parent = file_json(10, "Movies", file_type="FOLDER")
    requests_mock.get(
        f"{API}/files/list", json={"files": [file_json(1)], "parent": parent, "cursor": "c"}
    )
    requests_mock.post(f"{API}/files/list/continue", json={"files": [file_json(2)]})
    folder, files = client.list_files(10)
    assert folder.id == 10 and folder.is_folder
    assert [f.id for f in files] == [1, 2]


def test_iter_transfers_pages(client, requests_mock):
    requests_mock.get(
        f"{API}/transfers/list", json={"transfers": [transfer_json(1)], "cursor": "t1"}
    )
    requests_mock.post(
        f"{API}/transfers/list/continue", json={"transfers": [transfer_json(2)], "cursor": ""}
    )
    assert [t.id for t in client.iter_transfers()] == [1, 2]
    assert requests_mock.request_history[0].qs == {"per_page": ["1000"]}
    assert form(requests_mock.last_request) == {"cursor": "t1", "per_page": "1000"}


@pytest.mark.parametrize("per_page", [0, 1001, True])
def test_per_page_is_checked(client, per_page):
    with pytest.raises((ValueError, TypeError)):
        next(client.iter_files(per_page=per_page))


# -- endpoints -------------------------------------------------------------------------------


def test_get_file_and_find_child(client, requests_mock):
    requests_mock.get(f"{API}/files/5", json={"status": "OK", "file": file_json(5)})
    assert client.get_file(5).name == "file5.mkv"
    requests_mock.get(f"{API}/files/0/child", json={"file": file_json(6, "Movies")})
    assert client.find_child(0, "Movies").id == 6
    assert requests_mock.last_request.qs == {"name": ["movies"]}
    requests_mock.get(f"{API}/files/0/child", status_code=404, json={"error_type": "NotFound"})
    assert client.find_child(0, "Nope") is None


def test_create_folder_posts_a_form(client, requests_mock):
    requests_mock.post(
        f"{API}/files/create-folder", json={"file": file_json(8, "TV", file_type="FOLDER")}
    )
    assert client.create_folder("TV", parent_id=3).is_folder
    assert form(requests_mock.last_request) == {"name": "TV", "parent_id": "3"}


def test_delete_files(client, requests_mock):
    requests_mock.post(f"{API}/files/delete", json={"status": "OK", "skipped": 0})
    client.delete_files([1, 2, 3])
    assert form(requests_mock.last_request) == {"file_ids": "1,2,3"}
    assert requests_mock.last_request.qs == {"skip_nonexistents": ["1"]}
    client.delete_files([])
    assert requests_mock.call_count == 1  # nothing to delete, nothing sent


def test_file_url(client, requests_mock):
    requests_mock.get(f"{API}/files/5/url", json={"url": "https://s1.put.io/x?t=1"})
    assert client.file_url(5) == "https://s1.put.io/x?t=1"


def test_url_builders(client):
    assert client.download_url(5) == f"{API}/files/5/download"
    assert (
        client.download_url(5, name="Big Buck/Bunny 1.mkv")
        == f"{API}/files/5/download/Big%20Buck%2FBunny%201.mkv"
    )
    assert client.download_url(5, with_token=True) == f"{API}/files/5/download?oauth_token={TOKEN}"
    assert client.hls_url(5) == f"{API}/files/5/hls/media.m3u8?subtitle_key=all"
    assert (
        client.hls_url(5, subtitle_key=None, original=True, with_token=True)
        == f"{API}/files/5/hls/media.m3u8?original=1&oauth_token={TOKEN}"
    )


def test_subtitles(client, requests_mock):
    requests_mock.get(
        f"{API}/files/5/subtitles",
        json={
            "default": "key0",
            "subtitles": [{"key": "key0", "language": "English", "language_code": "eng"}],
        },
    )
    default, subs = client.list_subtitles(5, languages=["eng", "tur"])
    assert default == "key0" and subs[0].language_code == "eng"
    assert requests_mock.last_request.qs == {"languages": ["eng,tur"]}
    requests_mock.get(f"{API}/files/5/subtitles/default", content=b"1\n00:00:01,000 --> x\n")
    assert client.download_subtitle(5).startswith(b"1\n")
    assert requests_mock.last_request.qs == {"format": ["srt"]}


def test_add_transfer_posts_a_form(client, requests_mock):
    requests_mock.post(f"{API}/transfers/add", json={"transfer": transfer_json(3)})
    t = client.add_transfer("magnet:?xt=urn:btih:abc", save_parent_id=4, callback_url="http://cb")
    assert t.id == 3
    assert form(requests_mock.last_request) == {
        "url": "magnet:?xt=urn:btih:abc",
        "save_parent_id": "4",
        "callback_url": "http://cb",
    }
    assert requests_mock.last_request.headers["Content-Type"].startswith(
        "application/x-www-form-urlencoded"
    )


def test_upload_torrent_is_multipart(client, requests_mock):
    torrent = b"d8:announce3:udp4:infod4:name3:abc12:piece lengthi16384eee"
    requests_mock.post(f"{UPLOAD}/files/upload", json={"transfer": transfer_json(11)})
    t = client.upload_torrent(torrent, "abc.torrent", parent_id=4, callback_url="http://cb")
    assert t.id == 11
    sent = requests_mock.last_request
    assert sent.headers["Content-Type"].startswith("multipart/form-data")
    assert sent.headers["Authorization"] == f"token {TOKEN}"
    assert torrent in sent.body
    assert b'name="file"; filename="abc.torrent"' in sent.body
    for field, value in [
        ("filename", b"abc.torrent"),
        ("parent_id", b"4"),
        ("callback_url", b"http://cb"),
    ]:
        assert f'name="{field}"'.encode() in sent.body and value in sent.body


def test_upload_stored_as_a_file_is_an_error(client, requests_mock):
    requests_mock.post(f"{UPLOAD}/files/upload", json={"file": file_json(12, "junk.torrent")})
    with pytest.raises(PutioError, match="stored junk.torrent as a file, not a transfer"):
        client.upload_torrent(b"not a torrent", "junk.torrent")


def test_transfer_mutations(client, requests_mock):
    requests_mock.get(f"{API}/transfers/3", json={"transfer": transfer_json(3)})
    assert client.get_transfer(3).status == "DOWNLOADING"

    requests_mock.post(f"{API}/transfers/retry", json={"transfer": transfer_json(3)})
    client.retry_transfer(3)
    assert form(requests_mock.last_request) == {"id": "3"}

    requests_mock.post(f"{API}/transfers/cancel", json={"status": "OK"})
    client.cancel_transfers([3, 4])
    assert form(requests_mock.last_request) == {"transfer_ids": "3,4"}

    requests_mock.post(f"{API}/transfers/remove", json={"status": "OK"})
    client.remove_transfers([5])
    assert form(requests_mock.last_request) == {"transfer_ids": "5"}

    requests_mock.post(f"{API}/transfers/clean", json={"deleted_ids": [3, 4]})
    assert client.clean_transfers([3, 4]) == [3, 4]
    assert form(requests_mock.last_request) == {"transfer_ids": "3,4"}
    assert client.clean_transfers() == [3, 4]
    assert requests_mock.last_request.text is None  # no ids: put.io cleans every finished one

    requests_mock.post(f"{API}/transfers/clean", json={"deleted_ids": ["3"]})
    with pytest.raises(PutioError, match="deleted_ids"):
        client.clean_transfers()


def test_list_events(client, requests_mock):
    requests_mock.get(
        f"{API}/events/list",
        json={
            "events": [
                {"id": 9, "type": "upload", "created_at": "2016-06-16 11:12:57", "file_id": 1}
            ],
            "has_more": True,
        },
    )
    events, has_more = client.list_events(before=10, per_page=1)
    assert has_more is True and events[0].data["file_id"] == 1
    assert requests_mock.last_request.qs == {"before": ["10"], "per_page": ["1"]}


def test_oob_code_is_unauthenticated(requests_mock):
    requests_mock.get(
        f"{API}/oauth2/oob/code", json={"status": "OK", "code": "ABC123", "qr_code_url": "q"}
    )
    with PutioClient(None, api_url=API, app_id="4242") as c:
        code = c.oob_code()
    assert code.code == "ABC123"
    assert requests_mock.last_request.qs == {"app_id": ["4242"]}
    assert "Authorization" not in requests_mock.last_request.headers


def test_oob_poll_pending_linked_expired(requests_mock):
    url = f"{API}/oauth2/oob/code/ABC123"
    requests_mock.get(
        url,
        [
            {"json": {"status": "OK", "oauth_token": None}},
            {"json": {"status": "OK", "oauth_token": "fresh-token-77aa"}},
            {"status_code": 404, "json": {"error_type": "NotFound"}},
        ],
    )
    with PutioClient(None, api_url=API) as c:
        assert c.oob_poll("ABC123") is None
        assert c.oob_poll("ABC123") == "fresh-token-77aa"
        with pytest.raises(NotFound, match="expired .* run `putbridge login` again"):
            c.oob_poll("ABC123")
    assert all("Authorization" not in r.headers for r in requests_mock.request_history)


def test_close_only_closes_an_owned_session(monkeypatch):
    session = requests.Session()
    closed = []
    monkeypatch.setattr(session, "close", lambda: closed.append(True))
    PutioClient(TOKEN, session=session).close()
    assert closed == []
    with PutioClient(TOKEN) as c:
        monkeypatch.setattr(c._session, "close", lambda: closed.append("owned"))
    assert closed == ["owned"]


def test_clean_with_an_empty_id_list_cleans_nothing(client, requests_mock):
    # put.io reads an empty transfer_ids as "every finished transfer".
    assert client.clean_transfers([]) == []
    assert requests_mock.call_count == 0
