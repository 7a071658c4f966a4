"""put.io's callback, the health check and the app's JSON error answers (Flask's test client)."""

from __future__ import annotations

import json
import logging
import os
import secrets

import pytest

from putbridge.logs import REDACTED
from tests.webhook_fakes import FakeTransfers
from webhook import create_app

SECRET = "cb-" + secrets.token_urlsafe(24)


@pytest.fixture
def transfers() -> FakeTransfers:
    return FakeTransfers()


@pytest.fixture
def client(transfers):
    return create_app(
        transfers=transfers, api_key=secrets.token_urlsafe(24), callback_secret=SECRET
    ).test_client()


def callback(client, body: bytes | str = b"", content_type: str | None = None, secret=SECRET):
    return client.post(f"/putio/callback/{secret}", data=body, content_type=content_type)


# ---- the callback -------------------------------------------------------------------------


def test_a_callback_with_the_secret_pokes_the_monitor_and_logs_one_line(client, transfers, caplog):
    body = "id=4711&name=Show.S01E02.1080p&status=COMPLETED&file_id=99&percent_done=100"
    with caplog.at_level(logging.INFO, logger="putbridge.webhook"):
        resp = callback(client, body, "application/x-www-form-urlencoded")
    assert resp.status_code == 200 and resp.get_json() == {"ok": True}
    assert transfers.pokes == 1
    [line] = [r.getMessage() for r in caplog.records if r.name == "putbridge.webhook.callback"]
    assert "4711" in line and "Show.S01E02.1080p" in line and "COMPLETED" in line
    assert SECRET not in caplog.text and REDACTED not in caplog.text


@pytest.mark.parametrize(
    "wrong",
    [
        "nope",
        SECRET[:-1],
        SECRET + "x",
        SECRET[:-1] + ("A" if SECRET[-1] != "A" else "B"),
        SECRET.upper(),
        "x" * 4000,
        "%00",
    ],
)
def test_a_wrong_secret_is_the_same_404_as_any_unknown_path(client, transfers, wrong):
    resp = callback(client, "id=1", "application/x-www-form-urlencoded", secret=wrong)
    unknown = client.post("/no/such/path", data="id=1")
    assert resp.status_code == 404 and unknown.status_code == 404
    assert resp.get_data() == unknown.get_data()
    assert resp.get_json() == {"error": "not found", "status": 404}
    assert transfers.pokes == 0


def test_without_a_configured_secret_every_callback_is_a_404(transfers):
    for configured in (None, ""):
        c = create_app(transfers=transfers, callback_secret=configured).test_client()
        for secret in ("None", "none", "x", SECRET):
            assert callback(c, "id=1", secret=secret).status_code == 404
    assert transfers.pokes == 0


GARBAGE = [
    (b"", None),
    (os.urandom(4096), "application/octet-stream"),
    (os.urandom(200_000), "application/x-www-form-urlencoded"),
    (b"\xff\xfe\x00\x00{{{", "application/json"),
    (b"{" * 20_000, "application/json"),
    (b"[" * 20_000, "application/json"),
    (b"[1, 2, 3]", "application/json"),
    (b'"just a string"', "application/json"),
    (b"&" * 50_000 + b"=", "application/x-www-form-urlencoded"),
    (b"a=1&" * 5_000, "application/x-www-form-urlencoded"),
    (b"--x\r\nContent-Disposition: form-data; name=id\r\n\r\n1\r\n--x--", "multipart/form-data"),
    (b"id=%ZZ&name=%C3%28", "application/x-www-form-urlencoded"),
]


@pytest.mark.parametrize(("body", "content_type"), GARBAGE)
def test_a_callback_body_of_any_shape_is_a_200_and_a_poke(client, transfers, body, content_type):
    resp = callback(client, body, content_type)
    assert resp.status_code == 200 and resp.get_json() == {"ok": True}
    assert transfers.pokes == 1


def test_a_body_over_the_app_limit_still_pokes_and_its_head_is_read(client, transfers, caplog):
    body = b"id=31337&name=Big.One&pad=" + b"x" * (11 * 1024 * 1024)
    with caplog.at_level(logging.INFO, logger="putbridge.webhook.callback"):
        resp = callback(client, body, "application/x-www-form-urlencoded")
    assert resp.status_code == 200
    assert transfers.pokes == 1
    assert "31337" in caplog.text and "Big.One" in caplog.text


def test_a_json_callback_is_read_too(client, transfers, caplog):
    body = json.dumps({"transfer": {"id": 12, "name": "Movie (2010)", "status": "SEEDING"}})
    with caplog.at_level(logging.INFO, logger="putbridge.webhook.callback"):
        assert callback(client, body, "application/json").status_code == 200
        flat = json.dumps({"id": 13, "name": "Other"})
        assert callback(client, flat, "text/plain").status_code == 200
    assert "12" in caplog.text and "Movie (2010)" in caplog.text and "SEEDING" in caplog.text
    assert "13" in caplog.text and "Other" in caplog.text
    assert transfers.pokes == 2


def test_what_a_callback_says_cannot_forge_log_lines(client, transfers, caplog):
    name = "Evil\n2024-01-01 INFO putbridge: forged line\r\x1b[31m\x00" + "y" * 5000
    with caplog.at_level(logging.INFO, logger="putbridge.webhook.callback"):
        callback(client, json.dumps({"id": "1\n2", "name": name}), "application/json")
    [record] = [r for r in caplog.records if r.name == "putbridge.webhook.callback"]
    line = record.getMessage()
    assert "\n" not in line and "\r" not in line and "\x1b" not in line and "\x00" not in line
    assert len(line) < 400
    assert transfers.pokes == 1


def test_a_callback_must_be_a_post(client, transfers):
    resp = client.get(f"/putio/callback/{SECRET}")
    assert resp.status_code == 405 and resp.get_json()["status"] == 405
    assert transfers.pokes == 0


# ---- health -------------------------------------------------------------------------------


def test_health_without_checks_is_ok(client):
    resp = client.get("/health")
    assert resp.status_code == 200
    assert resp.get_json() == {"ok": True, "checks": {}}
    assert resp.headers["Cache-Control"] == "no-store"


def test_health_answers_what_the_checks_say_without_a_key():
    state = {"ok": True, "checks": {"database": {"ok": True, "detail": "12 transfers"}}}
    c = create_app(api_key=secrets.token_urlsafe(24), health=lambda: state).test_client()
    resp = c.get("/health")
    assert resp.status_code == 200 and resp.get_json() == state
    state = {
        "ok": False,
        "checks": {
            "database": {"ok": True, "detail": "fine"},
            "putio": {"ok": False, "detail": "put.io cannot be reached"},
        },
    }
    resp = c.get("/health")
    assert resp.status_code == 503 and resp.get_json() == state
    assert c.head("/health").status_code == 503


@pytest.mark.parametrize(
    "answer",
    [
        {"ok": "yes", "checks": {}},  # only True is healthy
        {"checks": {}},
        ["ok"],
        None,
        {"ok": True, "checks": {"x": object()}},  # not JSON-safe
    ],
)
def test_a_strange_health_answer_is_unhealthy(answer):
    c = create_app(health=lambda: answer).test_client()
    resp = c.get("/health")
    assert resp.status_code == 503 and resp.get_json()["ok"] is False


def test_a_health_check_that_raises_is_a_503_not_a_500(caplog):
    def broken() -> dict:
        raise RuntimeError("disk on fire")

    c = create_app(health=broken).test_client()
    with caplog.at_level(logging.ERROR):
        resp = c.get("/health")
    assert resp.status_code == 503
    assert resp.get_json()["ok"] is False and "fire" not in resp.get_data(as_text=True)
    assert "disk on fire" in caplog.text


def test_health_is_get_only(client):
    resp = client.post("/health")
    assert resp.status_code == 405 and resp.get_json() == {
        "error": "method not allowed",
        "status": 405,
    }


# ---- the app ------------------------------------------------------------------------------


def test_stream_links_are_served_only_with_all_their_collaborators():
    c = create_app().test_client()
    assert c.get("/stream/1/sig/Movie.mp4").status_code == 404
    with pytest.raises(TypeError):
        create_app(signer=object())  # type: ignore[arg-type]


def test_unknown_paths_are_json_404s(client):
    resp = client.get("/nothing/here")
    assert resp.status_code == 404 and resp.get_json() == {"error": "not found", "status": 404}
