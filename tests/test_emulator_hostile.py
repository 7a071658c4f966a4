"""Hostile input to the emulator: torrents whose files cannot be laid out, a transfer whose
completion fails, malformed parameters, and control routes asked from another machine."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import requests

import putbridge.emulator.transfer_ops as transfer_ops
from putbridge.emulator import ApiError, create_emulator_app
from putbridge.emulator.torrents import parse_torrent
from tests.factories import make_torrent


def bencode(value: object) -> bytes:
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(item) for item in value) + b"e"
    assert isinstance(value, dict)
    items = sorted(value.items())
    return b"d" + b"".join(bencode(key) + bencode(item) for key, item in items) + b"e"


def hostile_torrent(files: list[tuple[list[str], int]], name: str = "Pack") -> bytes:
    """A multi-file .torrent with exactly these raw paths (no tool would write them)."""
    pieces = max(1, -(-sum(size for _, size in files) // 16384))
    info = {
        "name": name,
        "piece length": 16384,
        "pieces": b"a" * 20 * pieces,
        "files": [{"length": size, "path": path} for path, size in files],
    }
    return bencode({"announce": "http://tracker.invalid/announce", "info": info})


def single_file_torrent(name: str) -> bytes:
    info = {"name": name, "piece length": 16384, "pieces": b"a" * 20, "length": 10}
    return bencode({"announce": "http://tracker.invalid/announce", "info": info})


def magnet(name: str, digit: str) -> str:
    return f"magnet:?xt=urn:btih:{digit * 40}&dn={name}&xl=1000"


def assert_error_body(response: requests.Response, status: int = 400) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "ERROR" and body["status_code"] == status
    assert isinstance(body["error_type"], str) and body["error_type"]
    assert isinstance(body["error_message"], str) and body["error_message"]
    return body


# ---- 1. torrents whose files cannot be created --------------------------------------------------

HOSTILE_LAYOUTS = {
    "file-and-folder": [(["a"], 10), (["a", "b"], 10)],
    "folder-then-file": [(["a", "b"], 10), (["a"], 10)],
    "dotdot": [([".."], 10), (["..", "x.mkv"], 10)],
    "dot": [(["."], 10), (["c.mkv"], 5)],
    "empty-component": [([""], 10), (["c.mkv"], 5)],
    "empty-inner-component": [(["a", "", "b.mkv"], 10), (["c.mkv"], 5)],
    "blank-component": [(["  "], 10), (["c.mkv"], 5)],
    "empty-path": [([], 10), (["c.mkv"], 5)],
    "slash-in-component": [(["a/b.mkv"], 10), (["c.mkv"], 5)],
    "nul-in-component": [(["a\x00b.mkv"], 10), (["c.mkv"], 5)],
    "duplicate": [(["c.mkv"], 10), (["c.mkv"], 5)],
    "too-long": [(["x" * 300 + ".mkv"], 10), (["c.mkv"], 5)],
}
HOSTILE_TORRENTS = {
    **{label: hostile_torrent(files) for label, files in HOSTILE_LAYOUTS.items()},
    "folder-named-dotdot": hostile_torrent([(["x.mkv"], 10)], name=".."),
    "folder-name-with-slash": hostile_torrent([(["x.mkv"], 10)], name="a/b"),
    "single-file-named-dotdot": single_file_torrent(".."),
    "single-file-with-nul": single_file_torrent("x\x00.mkv"),
    "single-file-with-slash": single_file_torrent("dir/x.mkv"),
}


@pytest.mark.parametrize("label", sorted(HOSTILE_TORRENTS))
def test_a_torrent_whose_files_cannot_be_laid_out_is_refused(
    http, api, emulator_server, emulator, label
):
    data = HOSTILE_TORRENTS[label]
    with pytest.raises(ApiError) as raised:
        parse_torrent(data)
    assert raised.value.error_type == "INVALID_TORRENT"
    response = http.post(
        f"{emulator_server.upload_url}/files/upload", files={"file": ("x.torrent", data)}
    )
    body = assert_error_body(response)
    assert body["error_type"] == "INVALID_TORRENT"
    assert body["error_message"].startswith("Invalid .torrent file: ")
    assert emulator.transfers == {}
    emulator.clock.advance(100)
    assert http.get(f"{api}/account/info").status_code == 200
    assert set(emulator.files) == {0}  # nothing was created


def test_a_layout_that_slips_past_parsing_fails_only_its_transfer(
    http, api, emulator_server, emulator, tmp_path, monkeypatch
):
    """Depth two: should parse_torrent ever let a bad layout through, completing it ends that
    transfer in ERROR, creates no folder and breaks neither other transfers nor requests."""
    good = parse_torrent(make_torrent(tmp_path, {"a.mkv": b"1" * 100, "b.mkv": b"2" * 50}))
    bad = dataclasses.replace(good, files=((("a",), 10), (("a", "b"), 10)))
    monkeypatch.setattr(transfer_ops, "parse_torrent", lambda data: bad)
    upload = http.post(
        f"{emulator_server.upload_url}/files/upload", files={"file": ("p.torrent", good.raw)}
    )
    assert upload.status_code == 200
    bad_id = upload.json()["transfer"]["id"]
    fine_id = http.post(f"{api}/transfers/add", data={"url": magnet("Fine.mkv", "1")}).json()[
        "transfer"
    ]["id"]

    emulator.clock.advance(60)  # completes both: must not raise
    for _ in range(3):
        assert http.get(f"{api}/account/info").status_code == 200
    failed = http.get(f"{api}/transfers/{bad_id}").json()["transfer"]
    assert failed["status"] == "ERROR" and failed["file_id"] is None
    assert "both a file and a folder" in failed["error_message"]
    assert emulator.file_by_path("/Pack") is None
    assert http.get(f"{api}/transfers/{fine_id}").json()["transfer"]["status"] == "COMPLETED"
    assert emulator.file_by_path("/Fine.mkv") is not None
    errors = [e for e in emulator.events if e["type"] == "transfer_error"]
    assert [e["transfer_name"] for e in errors] == ["Pack"]


def test_completion_failing_for_one_transfer_fails_only_that_one(http, api, emulator, monkeypatch):
    real_materialize = transfer_ops.materialize
    failures = []

    def flaky(tree, rec, now):
        if rec.name == "Broken.mkv" and not failures:
            failures.append(rec.id)
            raise RuntimeError("disk on fire")
        return real_materialize(tree, rec, now)

    monkeypatch.setattr(transfer_ops, "materialize", flaky)
    ids = {
        name: http.post(f"{api}/transfers/add", data={"url": magnet(name, digit)}).json()[
            "transfer"
        ]["id"]
        for name, digit in [("Before.mkv", "1"), ("Broken.mkv", "2"), ("After.mkv", "3")]
    }
    emulator.clock.advance(60)
    listed = http.get(f"{api}/transfers/list")
    assert listed.status_code == 200
    by_name = {t["name"]: t for t in listed.json()["transfers"]}
    assert by_name["Before.mkv"]["status"] == by_name["After.mkv"]["status"] == "COMPLETED"
    broken = by_name["Broken.mkv"]
    assert broken["status"] == "ERROR" and "RuntimeError: disk on fire" in broken["error_message"]
    assert emulator.file_by_path("/Broken.mkv") is None
    assert emulator.file_by_path("/Before.mkv") and emulator.file_by_path("/After.mkv")
    assert [e["transfer_name"] for e in emulator.events if e["type"] == "transfer_error"] == [
        "Broken.mkv"
    ]
    for _ in range(3):
        assert http.get(f"{api}/account/info").status_code == 200
    # the failure was transient: a retry completes it
    assert http.post(f"{api}/transfers/retry", data={"id": ids["Broken.mkv"]}).status_code == 200
    emulator.clock.advance(60)
    assert emulator.transfers[ids["Broken.mkv"]].status == "COMPLETED"
    assert emulator.file_by_path("/Broken.mkv") is not None


def test_a_multi_file_torrent_failing_half_way_leaves_no_folder(emulator, tmp_path, monkeypatch):
    data = make_torrent(tmp_path, {"1.mkv": b"1" * 10, "2.mkv": b"2" * 10, "3.mkv": b"3" * 10})
    real_add_file = emulator.tree.add_file
    calls = []

    def failing_second(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise OSError("no space left")
        return real_add_file(*args, **kwargs)

    monkeypatch.setattr(emulator.tree, "add_file", failing_second)
    transfer_id = emulator.add_torrent(data)
    emulator.clock.advance(60)
    rec = emulator.transfers[transfer_id]
    assert rec.status == "ERROR" and "no space left" in (rec.error_message or "")
    assert set(emulator.files) == {0}  # the folder and its first file were removed
    assert emulator.tree.records[0].size == 0


# ---- 2. malformed parameters --------------------------------------------------------------------

AS_JSON = {"Content-Type": "application/json"}
HOSTILE_REQUESTS = [
    ("POST", "/v2/account/settings", {"json": {"settings": 5}}),
    ("POST", "/v2/account/settings", {"json": {"settings": [1]}}),
    ("POST", "/v2/account/settings", {"json": {"default_download_folder": "abc"}}),
    ("POST", "/v2/account/settings", {"json": {"settings": {"default_download_folder": 1.5}}}),
    ("POST", "/v2/account/settings", {"json": {"default_download_folder": True}}),
    ("POST", "/v2/account/settings", {"json": {"default_download_folder": -3}}),
    ("POST", "/v2/account/settings", {"json": {"beta_user": "yes"}}),
    ("POST", "/v2/account/settings", {"data": b'{"locale": NaN}', "headers": AS_JSON}),
    ("PUT", "/v2/config", {"data": b'{"config": {"a": Infinity}}', "headers": AS_JSON}),
    ("PUT", "/v2/config/k", {"data": b'{"value": 1e999}', "headers": AS_JSON}),
    ("POST", "/v2/files/{video}/start-from", {"data": {"time": "inf"}}),
    ("POST", "/v2/files/{video}/start-from", {"data": {"time": "nan"}}),
    ("POST", "/v2/files/{video}/start-from", {"data": {"time": "1e400"}}),
    ("POST", "/v2/transfers/add", {"data": {"url": "http://[::1"}}),
    ("POST", "/v2/transfers/add", {"data": {"url": "https://host:port/x.mkv"}}),
    ("POST", "/_emulator/faults", {"json": {"rate_limit": {"limit": "abc"}}}),
    ("POST", "/_emulator/faults", {"json": {"rate_limit": {"limit": None}}}),
    ("POST", "/_emulator/faults", {"json": {"rate_limit": {"limit": 5, "window": "nan"}}}),
    ("POST", "/_emulator/faults", {"json": {"rate_limit": ["x", 1]}}),
    ("POST", "/_emulator/faults", {"json": {"rate_limit": [5]}}),
    ("POST", "/_emulator/faults", {"data": {"latency": "nan"}}),
    ("POST", "/_emulator/faults", {"data": {"latency": "inf"}}),
    ("POST", "/_emulator/faults", {"data": {"latency": "1e9"}}),
    ("POST", "/_emulator/faults", {"data": {"error_rate": "nan"}}),
    ("POST", "/_emulator/files", {"data": {"path": "/"}}),
    ("POST", "/_emulator/files", {"data": {"path": "///"}}),
    ("POST", "/_emulator/files", {"data": {"path": "/x.mkv", "size": "-1"}}),
    ("POST", "/_emulator/clock/advance", {"data": {"seconds": "nan"}}),
    ("POST", "/_emulator/clock/advance", {"data": {"seconds": "inf"}}),
    ("POST", "/_emulator/clock/advance", {"data": {"seconds": "-1"}}),
    ("POST", "/_emulator/clock/advance", {"data": {"seconds": "1e300"}}),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "kwargs"), HOSTILE_REQUESTS)
def test_hostile_input_is_a_400_and_leaves_the_emulator_working(
    http, emulator_server, emulator, method, path, kwargs
):
    video = emulator.add_file("Film.mkv")
    faults, now = emulator.faults.snapshot(), emulator.clock.now()
    url = emulator_server.base_url + path.format(video=video)
    assert_error_body(http.request(method, url, **kwargs))

    assert emulator.faults.snapshot() == faults and emulator.clock.now() == now
    api = emulator_server.api_url
    assert http.get(f"{api}/account/info").status_code == 200
    start_from = http.get(f"{api}/files/{video}/start-from")
    assert start_from.status_code == 200 and math.isfinite(start_from.json()["start_from"])
    for response in (http.get(f"{api}/config"), http.get(f"{api}/account/settings")):
        json.loads(response.text, parse_constant=pytest.fail)  # no NaN/Infinity in the JSON
    added = http.post(f"{api}/transfers/add", data={"url": magnet("After.mkv", "a")})
    assert added.status_code == 200, added.text
    emulator.clock.advance(60)
    assert http.get(f"{api}/transfers/list").status_code == 200
    assert emulator.file_by_path("/After.mkv") is not None


def test_default_download_folder_is_used_once_valid(http, api, emulator):
    folder = emulator.add_folder("Downloads")
    changed = http.post(f"{api}/account/settings", json={"default_download_folder": folder})
    assert changed.status_code == 200
    added = http.post(f"{api}/transfers/add", data={"url": magnet("X.mkv", "b")}).json()
    assert added["transfer"]["save_parent_id"] == folder


def test_add_multi_reports_a_bad_entry_and_adds_the_others(http, api, emulator):
    urls = [
        {"url": magnet("One.mkv", "1"), "save_parent_id": "abc"},
        {"url": magnet("Two.mkv", "2"), "callback_url": {"not": "a url"}},
        {"url": magnet("Three.mkv", "3")},
    ]
    body = http.post(f"{api}/transfers/add-multi", data={"urls": json.dumps(urls)}).json()
    assert [t["name"] for t in body["transfers"]] == ["Three.mkv"]
    assert [e["error_type"] for e in body["errors"]] == ["BadRequest", "BadRequest"]


# ---- 3. control routes answer only this machine -------------------------------------------------


@pytest.fixture
def app_client(emulator):
    return create_emulator_app(emulator).test_client()


def _code(app_client) -> str:
    return app_client.get("/v2/oauth2/oob/code?app_id=1").json["code"]


CONTROL_REQUESTS = [
    ("GET", "/_emulator/stats", {}),
    ("GET", "/_emulator/faults", {}),
    ("POST", "/_emulator/faults", {"json": {"error_rate": 1.0}}),
    ("POST", "/_emulator/clock/advance", {"json": {"seconds": 30}}),
    ("POST", "/_emulator/files", {"json": {"path": "/planted.mkv"}}),
    ("POST", "/_emulator/dead", {"json": {"substring": "x"}}),
    ("POST", "/_emulator/tick", {}),
    ("POST", "/_emulator/oob/approve", {"json": {"code": "{code}"}}),
    ("GET", "/_emulator/oob/pending", {}),
    ("GET", "/link", {}),
    ("POST", "/link", {"data": {"code": "{code}"}}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), CONTROL_REQUESTS)
@pytest.mark.parametrize("remote", ["10.1.2.3", "192.168.1.20", "::ffff:10.1.2.3", "fe80::1", ""])
def test_control_routes_refuse_other_machines(app_client, emulator, remote, method, path, kwargs):
    code = _code(app_client)
    kwargs = json.loads(json.dumps(kwargs).replace("{code}", code))
    before = (emulator.faults.snapshot(), emulator.clock.now(), set(emulator.files))
    response = app_client.open(path, method=method, environ_base={"REMOTE_ADDR": remote}, **kwargs)
    assert response.status_code == 403
    assert response.json["status"] == "ERROR" and response.json["error_type"] == "Forbidden"
    assert emulator.pending_codes() == [code]  # no token was handed out
    assert (emulator.faults.snapshot(), emulator.clock.now(), set(emulator.files)) == before
    assert emulator._dead == []


@pytest.mark.parametrize(("method", "path", "kwargs"), CONTROL_REQUESTS)
@pytest.mark.parametrize("remote", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_control_routes_answer_this_machine(app_client, emulator, remote, method, path, kwargs):
    code = _code(app_client)
    kwargs = json.loads(json.dumps(kwargs).replace("{code}", code))
    response = app_client.open(path, method=method, environ_base={"REMOTE_ADDR": remote}, **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    if path.endswith(("approve", "link")) and method == "POST":
        assert emulator.pending_codes() == []


def test_the_api_itself_still_answers_other_machines(app_client, emulator):
    remote = {"REMOTE_ADDR": "10.1.2.3"}
    auth = {"Authorization": f"token {emulator.token}"}
    assert app_client.get("/v2/account/info", headers=auth, environ_base=remote).status_code == 200
    assert app_client.get("/v2/account/info", environ_base=remote).status_code == 401
