"""The web API (/api/transfers): submissions as JSON, multipart and form, hostile bodies, listing
and reading. Flask's test client here; the key in test_webhook_auth.py, real HTTP in
test_webhook_http.py."""

from __future__ import annotations

import io
import json
import logging

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from putbridge.errors import IntakeError, PutioError, TransientError
from putbridge.logs import REDACTED, register_secret
from tests.conftest import TEST_TOKEN
from tests.factories import infohash, make_torrent
from tests.webhook_fakes import (  # noqa: F401 - fixtures are used by name
    HASH,
    MAGNET,
    FakeTransfers,
    anon,
    app,
    assert_error,
    client,
    key,
    transfers,
)
from webhook.api import MAX_BODY_BYTES, normalize_target

# ---- submissions --------------------------------------------------------------------------


def test_a_json_magnet_is_queued_with_202(client, transfers):
    resp = client.post("/api/transfers", json={"url": MAGNET, "target": "/TV"})
    assert resp.status_code == 202
    body = resp.get_json()
    assert body["duplicate"] is False
    assert body["transfer"]["id"] == 1 and body["transfer"]["origin"] == "api"
    assert body["transfer"]["target"] == "/TV"
    assert resp.headers["Location"] == "/api/transfers/1"
    assert resp.headers["Cache-Control"] == "no-store"
    [added] = transfers.adds
    assert added.origin == "api" and added.wait is False and added.target == "/TV"
    assert added.source.kind == "magnet" and added.source.key == f"btih:{HASH}"
    assert added.source.url == MAGNET


def test_the_same_source_twice_answers_200_with_the_existing_record(client, transfers):
    first = client.post("/api/transfers", json={"url": MAGNET})
    upper = MAGNET.replace(HASH, HASH.upper())  # the same info-hash, written differently
    second = client.post("/api/transfers", json={"url": upper})
    assert first.status_code == 202 and second.status_code == 200
    assert second.get_json()["duplicate"] is True
    assert second.get_json()["transfer"] == first.get_json()["transfer"]
    assert "Location" not in second.headers
    assert len(transfers.records) == 1


def test_without_a_target_the_service_picks_its_default(client, transfers):
    for body in ({"url": MAGNET}, {"url": MAGNET, "target": None}, {"url": MAGNET, "target": ""}):
        client.post("/api/transfers", json=body)
    assert [added.target for added in transfers.adds] == [None, None, None]


def test_a_json_content_type_with_parameters_is_json(client, transfers):
    resp = client.post(
        "/api/transfers",
        data=json.dumps({"url": MAGNET}).encode(),
        content_type="application/json; charset=utf-8",
    )
    assert resp.status_code == 202


def test_an_http_url_is_accepted(client, transfers):
    resp = client.post("/api/transfers", json={"url": "  https://example.com/files/a.torrent\n"})
    assert resp.status_code == 202
    assert transfers.adds[0].source.kind == "url"


def test_a_form_urlencoded_url_is_accepted(client, transfers):
    resp = client.post("/api/transfers", data={"url": MAGNET, "target": "/Movies/"})
    assert resp.status_code == 202
    assert transfers.adds[0].target == "/Movies"
    assert transfers.adds[0].source.key == f"btih:{HASH}"


def test_a_multipart_torrent_is_accepted(client, transfers, tmp_path):
    data = make_torrent(tmp_path, {"Movie.mkv": b"\x1a" * 40_000}, name="Movie")
    for field in ("torrent", "file"):
        resp = client.post(
            "/api/transfers",
            data={field: (io.BytesIO(data), "Movie.torrent"), "target": "/Films"},
            content_type="multipart/form-data",
        )
        assert resp.status_code in (202, 200)
    first, second = transfers.adds
    assert first.source.kind == "torrent" and first.source.data == data
    assert first.source.key == f"btih:{infohash(data)}" and first.target == "/Films"
    assert second.source.key == first.source.key
    assert [a.origin for a in transfers.adds] == ["api", "api"]
    assert len(transfers.records) == 1


def test_an_uploaded_file_name_cannot_carry_a_path(client, transfers, tmp_path):
    data = make_torrent(tmp_path, {"a.bin": b"a" * 1000}, name="A")
    resp = client.post(
        "/api/transfers",
        data={"torrent": (io.BytesIO(data), "../../etc/evil\x00.torrent")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 202
    filename = transfers.adds[0].source.filename
    assert filename and "/" not in filename and "\\" not in filename and "\x00" not in filename


def test_a_multipart_url_field_is_accepted_in_place_of_a_file(client, transfers):
    resp = client.post("/api/transfers", data={"url": MAGNET}, content_type="multipart/form-data")
    assert resp.status_code == 202
    assert transfers.adds[0].source.kind == "magnet"


# ---- hostile submissions ------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b"{", b"not json", b"", b"\xff\xfe\x00garbage", b"[" * 50_000, b'{"url": "magnet:?xt=\xff"}'],
)
def test_a_body_that_is_not_json_is_a_400(client, transfers, raw):
    resp = client.post("/api/transfers", data=raw, content_type="application/json")
    assert "JSON" in assert_error(resp, 400)
    assert transfers.adds == []


@pytest.mark.parametrize(
    "payload",
    [
        [MAGNET],
        MAGNET,
        42,
        None,
        {},
        {"urls": [MAGNET]},
        {"url": 123},
        {"url": [MAGNET]},
        {"url": {"href": MAGNET}},
        {"url": True},
        {"url": "   "},
        {"url": "x" * 100_000},
        {"url": MAGNET + "\x00"},
        {"url": "magnet:?xt=urn:btih:\x00" + HASH},
        {"url": MAGNET + "\r\nX-Injected: 1"},
        {"url": "javascript:alert(1)"},
        {"url": "file:///etc/passwd"},
        {"url": "ftp://example.com/a.torrent"},
        {"url": "magnet:?dn=no-hash"},
        {"url": "magnet:?xt=urn:btih:1234"},
        {"url": MAGNET, "target": "TV"},
        {"url": MAGNET, "target": "/TV/../.."},
        {"url": MAGNET, "target": "/TV/./x"},
        {"url": MAGNET, "target": "/TV\x00/x"},
        {"url": MAGNET, "target": 5},
        {"url": MAGNET, "target": ["/TV"]},
        {"url": MAGNET, "target": "/" + "a" * 2000},
    ],
)
def test_bad_submissions_are_400s_that_say_why(client, transfers, payload):
    raw = json.dumps(payload).encode()
    resp = client.post("/api/transfers", data=raw, content_type="application/json")
    message = assert_error(resp, 400)
    assert len(message) < 500
    assert transfers.adds == []


def test_a_json_body_over_the_link_limit_is_a_413(client, transfers):
    raw = json.dumps({"url": MAGNET, "pad": "x" * (2 * 1024 * 1024)}).encode()
    assert_error(client.post("/api/transfers", data=raw, content_type="application/json"), 413)
    assert transfers.adds == []


def test_a_body_over_the_app_limit_is_a_json_413(client, transfers):
    # Encoded here: the test client would spool so big a body to a file it never closes.
    boundary, body = encode_multipart(
        {"torrent": FileStorage(io.BytesIO(b"\0" * (11 * 1024 * 1024)), "big.torrent")}
    )
    resp = client.post(
        "/api/transfers", data=body, content_type=f'multipart/form-data; boundary="{boundary}"'
    )
    assert_error(resp, 413)
    assert transfers.adds == []


def test_a_big_body_is_a_413_even_when_its_torrent_is_small(client, transfers, tmp_path):
    data = make_torrent(tmp_path, {"a.bin": b"a" * 1000}, name="A")
    boundary, body = encode_multipart(
        {
            "torrent": FileStorage(io.BytesIO(data), "a.torrent"),
            "padding": FileStorage(io.BytesIO(b"\0" * MAX_BODY_BYTES), "pad.bin"),
        }
    )
    resp = client.post(
        "/api/transfers", data=body, content_type=f'multipart/form-data; boundary="{boundary}"'
    )
    assert_error(resp, 413)
    assert transfers.adds == []


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "application/octet-stream", "application/x-bittorrent", ""],
)
def test_other_content_types_are_415s(client, transfers, content_type):
    resp = client.post("/api/transfers", data=MAGNET.encode(), content_type=content_type)
    assert "application/json" in assert_error(resp, 415)
    assert transfers.adds == []


def test_a_multipart_body_without_the_file_part_is_a_400(client, transfers):
    resp = client.post(
        "/api/transfers",
        data={"other": (io.BytesIO(b"d4:infodee"), "x.torrent"), "target": "/TV"},
        content_type="multipart/form-data",
    )
    assert '"torrent"' in assert_error(resp, 400)
    # A multipart content type whose body is not multipart at all.
    resp = client.post(
        "/api/transfers", data=b"\x00\x01garbage", content_type="multipart/form-data; boundary=zz"
    )
    assert_error(resp, 400)
    assert transfers.adds == []


@pytest.mark.parametrize(
    "data", [b"this is not bencode", b"d4:name3:fooe", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, b""]
)
def test_a_torrent_part_that_is_not_a_torrent_is_a_400_with_a_reason(client, transfers, data):
    resp = client.post(
        "/api/transfers",
        data={"torrent": (io.BytesIO(data), "bad.torrent")},
        content_type="multipart/form-data",
    )
    message = assert_error(resp, 400)
    assert message not in ("bad request", "")
    assert transfers.adds == []


def test_a_refusal_from_the_service_is_a_400_and_put_io_trouble_a_503(client, transfers):
    transfers.fail = IntakeError("put.io refused it: invalid magnet")
    assert "invalid magnet" in assert_error(
        client.post("/api/transfers", json={"url": MAGNET}), 400
    )
    transfers.fail = TransientError("put.io is down")
    assert_error(client.post("/api/transfers", json={"url": MAGNET}), 503)
    transfers.fail = PutioError("put.io said no")
    assert_error(client.post("/api/transfers", json={"url": MAGNET}), 502)


def test_an_unexpected_error_is_a_bare_json_500_and_the_log_keeps_secrets(
    client, transfers, key, caplog
):
    register_secret(TEST_TOKEN)
    transfers.fail = RuntimeError(f"database exploded near {TEST_TOKEN} and {key}")
    with caplog.at_level(logging.DEBUG):
        resp = client.post("/api/transfers", json={"url": MAGNET})
    assert assert_error(resp, 500) == "internal error"
    text = resp.get_data(as_text=True)
    assert "exploded" not in text and TEST_TOKEN not in text and key not in text
    assert "database exploded" in caplog.text and REDACTED in caplog.text
    assert TEST_TOKEN not in caplog.text and key not in caplog.text


# ---- targets ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [("/", "/"), ("/TV", "/TV"), ("//TV//Shows/", "/TV/Shows"), ("/Films é/🎬", "/Films é/🎬")],
)
def test_targets_are_normalized(given, expected):
    assert normalize_target(given) == expected


@pytest.mark.parametrize("bad", ["", "TV", "./TV", "/..", "/a/../b", "/a/.", "/a\nb", "/a\x7f"])
def test_bad_targets_are_refused(bad):
    with pytest.raises(ValueError):
        normalize_target(bad)


# ---- listing and reading ------------------------------------------------------------------


def _submit_three(client, transfers):
    for n in range(3):
        magnet = f"magnet:?xt=urn:btih:{n:040x}&dn=Show.S01E0{n + 1}"
        assert client.post("/api/transfers", json={"url": magnet}).status_code == 202
    transfers.set_state(2, "downloading")


def test_list_returns_records_newest_first(client, transfers):
    _submit_three(client, transfers)
    resp = client.get("/api/transfers")
    assert resp.status_code == 200
    assert [t["id"] for t in resp.get_json()["transfers"]] == [3, 2, 1]
    assert transfers.lists[-1] == (100, None)


def test_list_filters_and_limits(client, transfers):
    _submit_three(client, transfers)
    resp = client.get("/api/transfers?state=downloading,failed&limit=5")
    assert [t["id"] for t in resp.get_json()["transfers"]] == [2]
    assert transfers.lists[-1] == (5, ["downloading", "failed"])
    resp = client.get("/api/transfers?state=received&state=downloading&limit=1000")
    assert transfers.lists[-1] == (1000, ["received", "downloading"])
    assert len(resp.get_json()["transfers"]) == 3


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=1001",
        "limit=-1",
        "limit=abc",
        "limit=1e3",
        "limit=%205",
        "limit=",
        "limit=99999999999999999999",
        "limit=%D9%A1",  # an Arabic-Indic digit: int() would take it
        "state=bogus",
        "state=received,%00",
        "state=" + "x" * 5000,
    ],
)
def test_bad_list_parameters_are_400s(client, transfers, query):
    assert_error(client.get(f"/api/transfers?{query}"), 400)
    assert transfers.lists == []


def test_get_returns_one_record_or_a_json_404(client, transfers):
    _submit_three(client, transfers)
    resp = client.get("/api/transfers/2")
    assert resp.status_code == 200 and resp.get_json()["transfer"]["state"] == "downloading"
    assert "no such transfer" in assert_error(client.get("/api/transfers/99"), 404)
    assert_error(client.get(f"/api/transfers/{2**64}"), 404)  # past SQLite's integers
    for path in ("/api/transfers/-1", "/api/transfers/abc", "/api/transfers/1.5"):
        assert_error(client.get(path), 404)


def test_wrong_methods_are_json_405s(client):
    resp = client.delete("/api/transfers")
    assert_error(resp, 405)
    assert "POST" in resp.headers["Allow"]
    assert_error(client.put("/api/transfers/1"), 405)
