"""The web API, callback and health over real HTTP: the app served by BridgeServer (waitress) on an
ephemeral port, requests as the client."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import requests

from tests.factories import infohash, make_torrent
from tests.webhook_fakes import FakeTransfers
from webhook import BridgeServer, create_app

HASH = "0123456789abcdef0123456789abcdef01234567"
MAGNET = f"magnet:?xt=urn:btih:{HASH}&dn=Sample"
KEY = "clé-" + secrets.token_urlsafe(24)  # non-ASCII: sent as UTF-8 bytes in a header
SECRET = secrets.token_urlsafe(24)


@pytest.fixture
def transfers() -> FakeTransfers:
    return FakeTransfers()


@pytest.fixture
def base(transfers) -> Iterator[str]:
    health = {"ok": True, "checks": {"database": {"ok": True, "detail": "open"}}}
    app = create_app(
        transfers=transfers, api_key=KEY, callback_secret=SECRET, health=lambda: health
    )
    with BridgeServer(app, threads=4) as server:
        yield server.base_url


@pytest.fixture
def web() -> Iterator[requests.Session]:
    session = requests.Session()
    yield session
    session.close()


def keyed(**extra: str | bytes) -> dict[str, str | bytes]:
    return {"X-Api-Key": KEY.encode("utf-8"), **extra}


def test_submit_read_and_list_over_http(base, web, transfers):
    url = f"{base}/api/transfers"
    refused = web.post(url, json={"url": MAGNET}, timeout=10)
    assert refused.status_code == 401 and refused.json()["status"] == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = web.post(url, json={"url": MAGNET}, headers={"X-Api-Key": "clé"}, timeout=10)
    assert wrong.status_code == 401
    assert transfers.adds == []

    created = web.post(url, json={"url": MAGNET, "target": "/TV"}, headers=keyed(), timeout=10)
    assert created.status_code == 202, created.text
    record = created.json()["transfer"]
    assert created.json()["duplicate"] is False and record["target"] == "/TV"
    bearer = {"Authorization": b"Bearer " + KEY.encode("utf-8")}
    again = web.post(url, json={"url": MAGNET}, headers=bearer, timeout=10)
    assert again.status_code == 200 and again.json() == {"transfer": record, "duplicate": True}

    one = web.get(f"{base}{created.headers['Location']}", headers=keyed(), timeout=10)
    assert one.status_code == 200 and one.json() == {"transfer": record}
    listed = web.get(url, params={"state": "received", "limit": "10"}, headers=keyed(), timeout=10)
    assert listed.status_code == 200 and listed.json() == {"transfers": [record]}
    assert web.get(f"{url}/77", headers=keyed(), timeout=10).status_code == 404
    assert web.get(url, timeout=10).status_code == 401


def test_torrent_upload_and_oversized_bodies_over_http(base, web, transfers, tmp_path):
    url = f"{base}/api/transfers"
    data = make_torrent(tmp_path, {"Episode.mkv": b"\x00" * 50_000}, name="Episode")
    resp = web.post(
        url,
        files={"torrent": ("Episode.torrent", data, "application/x-bittorrent")},
        data={"target": "/TV/Show"},
        headers=keyed(),
        timeout=10,
    )
    assert resp.status_code == 202, resp.text
    [added] = transfers.adds
    assert added.source.key == f"btih:{infohash(data)}" and added.target == "/TV/Show"

    huge = b"\x00" * (11 * 1024 * 1024)
    resp = web.post(url, files={"torrent": ("huge.torrent", huge)}, headers=keyed(), timeout=30)
    assert resp.status_code == 413 and resp.json()["status"] == 413
    resp = web.post(
        url, data=b"not a torrent", headers=keyed(**{"Content-Type": "text/plain"}), timeout=10
    )
    assert resp.status_code == 415
    assert len(transfers.adds) == 1


def test_callback_and_health_over_http(base, web, transfers):
    resp = web.post(f"{base}/putio/callback/{SECRET}", data={"id": "5", "name": "Done"}, timeout=10)
    assert resp.status_code == 200 and resp.json() == {"ok": True}
    assert transfers.poked.is_set() and transfers.pokes == 1
    garbage = web.post(f"{base}/putio/callback/{SECRET}", data=bytes(range(256)) * 64, timeout=10)
    assert garbage.status_code == 200 and transfers.pokes == 2
    wrong = web.post(f"{base}/putio/callback/{SECRET[:-2]}", data={"id": "5"}, timeout=10)
    assert wrong.status_code == 404 and wrong.json() == {"error": "not found", "status": 404}
    assert transfers.pokes == 2

    health = web.get(f"{base}/health", timeout=10)
    assert health.status_code == 200 and health.json()["checks"]["database"]["ok"] is True
