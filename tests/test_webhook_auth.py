"""The API key in front of /api: which headers carry it, what is refused, that it never leaks,
and that the API is closed when no key is configured."""

from __future__ import annotations

import logging

import pytest

from tests.webhook_fakes import (  # noqa: F401 - fixtures are used by name
    MAGNET,
    FakeTransfers,
    anon,
    app,
    assert_error,
    client,
    key,
    transfers,
)
from webhook import create_app
from webhook.api import MAX_BODY_BYTES

# ---- the key ------------------------------------------------------------------------------


ROUTES = [
    ("post", "/api/transfers"),
    ("get", "/api/transfers"),
    ("get", "/api/transfers/1"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_api_route_refuses_a_request_without_a_key(anon, transfers, method, path):
    resp = getattr(anon, method)(path, json={"url": MAGNET})
    assert_error(resp, 401)
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert transfers.adds == [] and transfers.lists == [] and transfers.gets == []


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Api-Key": "wrong"},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"X-Api-Key": ""},
    ],
)
def test_wrong_or_malformed_keys_are_refused(anon, transfers, headers):
    resp = anon.post("/api/transfers", json={"url": MAGNET}, headers=headers)
    assert_error(resp, 401)
    assert transfers.adds == []


def test_a_near_miss_key_is_refused(anon, key, transfers):
    near_misses = [
        key[:-1] + ("A" if key[-1] != "A" else "B"),  # same length
        key[:-1],  # a prefix
        key + "x",  # longer
        key.upper() if key.upper() != key else key.lower(),
        "x" * 1000,
    ]
    for attempt in near_misses:
        for headers in ({"X-Api-Key": attempt}, {"Authorization": f"Bearer {attempt}"}):
            assert_error(anon.get("/api/transfers", headers=headers), 401)
    assert transfers.lists == []


def test_the_right_key_is_accepted_in_either_header(anon, key, transfers):
    for headers in (
        {"X-Api-Key": key},
        {"Authorization": f"Bearer {key}"},
        {"Authorization": f"bearer   {key}  "},
    ):
        assert anon.get("/api/transfers", headers=headers).status_code == 200
    assert len(transfers.lists) == 3


def test_x_api_key_wins_over_a_bearer_token(anon, key):
    both = {"X-Api-Key": "wrong", "Authorization": f"Bearer {key}"}
    assert_error(anon.get("/api/transfers", headers=both), 401)


def test_the_key_is_not_taken_from_the_query_or_the_form(anon, key, transfers):
    assert_error(anon.get(f"/api/transfers?api_key={key}&apikey={key}"), 401)
    resp = anon.post("/api/transfers", data={"url": MAGNET, "api_key": key, "apikey": key})
    assert_error(resp, 401)
    assert transfers.adds == []


@pytest.mark.parametrize("configured", [None, ""])
def test_without_a_configured_key_the_api_is_closed(transfers, configured):
    app = create_app(transfers=transfers, api_key=configured)
    c = app.test_client()
    for headers in ({}, {"X-Api-Key": ""}, {"Authorization": "Bearer "}, {"X-Api-Key": "x"}):
        message = assert_error(c.post("/api/transfers", json={"url": MAGNET}, headers=headers), 503)
        assert "api_key" in message
        assert_error(c.get("/api/transfers", headers=headers), 503)
    assert transfers.adds == [] and transfers.lists == []


def test_the_key_is_checked_before_the_body_is_read(anon, transfers):
    big = b"x" * (MAX_BODY_BYTES + 1)
    resp = anon.post("/api/transfers", data=big, content_type="application/json")
    assert_error(resp, 401)


def test_the_key_never_reaches_a_log_line_or_a_body(client, anon, key, caplog, tmp_path):
    with caplog.at_level(logging.DEBUG):
        bodies = [
            client.post("/api/transfers", json={"url": MAGNET}),
            client.post("/api/transfers", json={"url": f"https://x.example/{key}.torrent"}),
            client.post("/api/transfers", json={"url": MAGNET, "target": f"/{key}/.."}),
            anon.get("/api/transfers", headers={"X-Api-Key": key + "x"}),
            client.get(f"/api/transfers?state={key}"),
        ]
    for resp in bodies:
        assert key not in resp.get_data(as_text=True)
    assert key not in caplog.text
    assert "wrong key" in caplog.text  # the refusal is logged, without the key


def test_without_a_transfer_service_the_api_says_so(key):
    c = create_app(api_key=key).test_client()
    assert_error(c.get("/api/transfers", headers={"X-Api-Key": key}), 503)
    assert_error(c.get("/api/transfers", headers={"X-Api-Key": "nope"}), 401)
