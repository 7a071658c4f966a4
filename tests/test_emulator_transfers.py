"""Emulator transfers: magnets, URLs, uploaded and fetched .torrent files, their lifecycle on the
manual clock, created files, callbacks, dead sources, retry, cancel/clean/remove, events."""

from __future__ import annotations

import base64
import socket
import threading

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from putbridge.emulator import Emulator, EmulatorServer, ManualClock
from tests.factories import infohash, make_torrent

HASH = "0123456789abcdef0123456789abcdef01234567"
MAGNET = f"magnet:?xt=urn:btih:{HASH}&dn=Some.Movie.2020.1080p&xl=100000000"

TRANSFER_FIELDS = {
    "id", "name", "hash", "type", "status", "source", "save_parent_id", "file_id", "size",
    "downloaded", "uploaded", "down_speed", "up_speed", "percent_done", "completion_percent",
    "estimated_time", "availability", "current_ratio", "seconds_seeding", "peers_connected",
    "peers_getting_from_us", "peers_sending_to_us", "error_message", "created_at", "started_at",
    "finished_at", "callback_url", "client_ip", "created_torrent", "download_id", "is_private",
    "simulated", "subscription_id", "torrent_link", "tracker", "tracker_message", "links",
    "userfile_exists", "status_message",
}  # fmt: skip


class Receiver:
    """A tiny HTTP server on 127.0.0.1: records POSTed forms, serves registered GET bodies."""

    def __init__(self) -> None:
        self.posts: list[dict[str, str]] = []
        self.got_post = threading.Event()
        self.routes: dict[str, tuple[bytes, str]] = {}
        self.fail_posts = False
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="test-receiver"
        )

    @Request.application
    def app(self, request: Request) -> Response:
        if request.method == "POST":
            self.posts.append(request.form.to_dict())
            self.got_post.set()
            return Response("nope", status=500) if self.fail_posts else Response("ok")
        if request.path in self.routes:
            body, content_type = self.routes[request.path]
            return Response(body, content_type=content_type)
        return Response("missing", status=404)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join()
        self.server.server_close()


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_transfer(http, api, transfer_id):
    return http.get(f"{api}/transfers/{transfer_id}").json()["transfer"]


# ---- magnets ---------------------------------------------------------------------------------


def test_magnet_moves_through_its_statuses(http, api, emulator):
    folder = emulator.add_folder("Movies")
    body = http.post(f"{api}/transfers/add", data={"url": MAGNET, "save_parent_id": folder}).json()
    transfer = body["transfer"]
    assert TRANSFER_FIELDS <= set(transfer)
    assert transfer["type"] == "TORRENT" and transfer["hash"] == HASH
    assert transfer["name"] == "Some.Movie.2020.1080p"
    assert transfer["size"] == 100_000_000 and transfer["status"] == "IN_QUEUE"
    assert transfer["file_id"] is None and transfer["started_at"] is not None
    tid = transfer["id"]
    emulator.clock.advance(1.5)  # 100 MB at 50 MB/s: 2 s of downloading
    downloading = get_transfer(http, api, tid)
    assert downloading["status"] == "DOWNLOADING"
    assert 0 < downloading["percent_done"] < 100
    assert 0 < downloading["downloaded"] < 100_000_000
    assert downloading["down_speed"] > 0 and downloading["estimated_time"] >= 1
    emulator.clock.advance(1.0)
    later = get_transfer(http, api, tid)
    assert later["downloaded"] > downloading["downloaded"]
    emulator.clock.advance(1.0)
    assert get_transfer(http, api, tid)["status"] == "COMPLETING"
    emulator.clock.advance(1.0)
    done = get_transfer(http, api, tid)
    assert done["status"] == "COMPLETED" and done["percent_done"] == 100
    assert done["finished_at"] is not None and done["userfile_exists"] is True
    created = http.get(f"{api}/files/{done['file_id']}").json()["file"]
    assert created["name"] == "Some.Movie.2020.1080p.mkv"
    assert created["parent_id"] == folder and created["size"] == 100_000_000
    event = http.get(f"{api}/events/list").json()["events"][0]
    assert event["type"] == "transfer_completed"
    assert event["file_id"] == done["file_id"] and event["transfer_name"] == done["name"]
    assert event["transfer_size"] == 100_000_000 and event["source"] == MAGNET


def test_magnet_without_name_is_named_by_hash_and_base32_works(http, api, emulator):
    base32 = base64.b32encode(bytes.fromhex(HASH)).decode()
    transfer = http.post(
        f"{api}/transfers/add", data={"url": f"magnet:?xt=urn:btih:{base32}"}
    ).json()["transfer"]
    assert transfer["hash"] == HASH and transfer["name"] == HASH


@pytest.mark.parametrize(
    "url",
    ["magnet:?dn=nohash", "magnet:?xt=urn:btih:1234", "ftp://example.com/x", "not a url"],
)
def test_invalid_sources_are_rejected(http, api, url):
    response = http.post(f"{api}/transfers/add", data={"url": url})
    assert response.status_code == 400
    assert response.json()["error_type"] == "TRANSFER_INVALID"
    assert response.json()["error_message"]


def test_empty_url_is_empty_url(http, api):
    response = http.post(f"{api}/transfers/add", data={"url": ""})
    assert response.status_code == 400 and response.json()["error_type"] == "EMPTY_URL"


def test_add_accepts_json_and_multipart_bodies(http, api):
    as_json = http.post(f"{api}/transfers/add", json={"url": MAGNET}).json()
    as_multipart = http.post(f"{api}/transfers/add", files={"url": (None, MAGNET)}).json()
    assert as_json["transfer"]["hash"] == as_multipart["transfer"]["hash"] == HASH


# ---- URLs --------------------------------------------------------------------------------------


def test_remote_url_transfer_is_simulated(http, api, emulator):
    url = "https://downloads.example.invalid/files/My%20Clip.mp4"
    transfer = http.post(f"{api}/transfers/add", data={"url": url}).json()["transfer"]
    assert transfer["type"] == "URL" and transfer["hash"] is None
    assert transfer["name"] == "My Clip.mp4"
    emulator.clock.advance(60)
    done = get_transfer(http, api, transfer["id"])
    assert done["status"] == "COMPLETED"
    assert emulator.files[done["file_id"]].name == "My Clip.mp4"


def test_loopback_url_is_fetched_and_becomes_the_file(http, api, emulator, receiver):
    receiver.routes["/docs/readme.txt"] = (b"fetched for real\n", "text/plain")
    url = f"{receiver.url}/docs/readme.txt"
    transfer = http.post(f"{api}/transfers/add", data={"url": url}).json()["transfer"]
    assert transfer["size"] == len(b"fetched for real\n")
    emulator.clock.advance(10)
    file_id = get_transfer(http, api, transfer["id"])["file_id"]
    location = http.get(f"{api}/files/{file_id}/download", allow_redirects=False).headers[
        "Location"
    ]
    assert requests.get(location).content == b"fetched for real\n"


def test_unreachable_url_ends_in_error(http, api, emulator):
    url = f"http://127.0.0.1:{free_port()}/gone.mkv"
    transfer = http.post(f"{api}/transfers/add", data={"url": url}).json()["transfer"]
    assert transfer["status"] == "IN_QUEUE"
    emulator.clock.advance(2)
    failed = get_transfer(http, api, transfer["id"])
    assert failed["status"] == "ERROR"
    assert "could not fetch" in failed["error_message"]


# ---- .torrent files ------------------------------------------------------------------------------


def test_uploaded_multi_file_torrent_creates_a_folder_tree(http, api, emulator, tmp_path):
    data = make_torrent(
        tmp_path,
        {"Season 01/Show.S01E01.mkv": b"a" * 3000, "Season 01/Show.S01E02.mkv": b"b" * 4000,
         "info.nfo": b"c" * 10},
        name="Show.S01",
    )  # fmt: skip
    info_hash = infohash(data)
    target = emulator.add_folder("TV")
    response = requests.post(
        f"{emulator_upload(api)}/files/upload?torrent=true",
        headers={"Authorization": f"Bearer {emulator.token}"},
        files={"file": ("show.torrent", data, "application/x-bittorrent")},
        data={"parent_id": target},
    )
    body = response.json()
    assert body["status"] == "OK" and "transfer" in body
    transfer = body["transfer"]
    assert transfer["name"] == "Show.S01" and transfer["hash"] == info_hash
    assert transfer["size"] == 7010 and transfer["type"] == "TORRENT"
    emulator.clock.advance(5)
    done = get_transfer(http, api, transfer["id"])
    assert done["status"] == "COMPLETED"
    assert emulator.file_by_path("/TV/Show.S01") == done["file_id"]
    episode = emulator.file_by_path("/TV/Show.S01/Season 01/Show.S01E02.mkv")
    assert emulator.files[episode].size == 4000
    assert emulator.file_by_path("/TV/Show.S01/info.nfo") is not None
    raw = http.get(f"{api}/transfers/{transfer['id']}/torrent")
    assert raw.content == data


def test_single_file_torrent_creates_one_file(http, api, emulator, tmp_path):
    data = make_torrent(tmp_path, {"Film.2001.mkv": b"x" * 5000}, name="single")
    body = requests.post(
        f"{emulator_upload(api)}/files/upload?oauth_token={emulator.token}",
        files={"file": ("film.torrent", data)},
    ).json()
    emulator.clock.advance(5)
    done = get_transfer(http, api, body["transfer"]["id"])
    assert emulator.file_by_path("/Film.2001.mkv") == done["file_id"]


def test_malformed_torrent_upload_is_a_clear_400(emulator_server, emulator):
    response = requests.post(
        f"{emulator_server.upload_url}/files/upload?oauth_token={emulator.token}",
        files={"file": ("broken.torrent", b"d4:infod4:name3:abcee")},
    )
    assert response.status_code == 400
    assert response.json()["error_type"] == "INVALID_TORRENT"
    assert "Invalid .torrent" in response.json()["error_message"]


def test_torrent_url_is_fetched_and_parsed(http, api, emulator, receiver, tmp_path):
    data = make_torrent(tmp_path, {"a.mkv": b"1" * 100, "b.mkv": b"2" * 100}, name="Fetched")
    receiver.routes["/t/fetched.torrent"] = (data, "application/octet-stream")
    receiver.routes["/t/by-type"] = (data, "application/x-bittorrent")
    for path in ("/t/fetched.torrent", "/t/by-type"):
        transfer = http.post(f"{api}/transfers/add", data={"url": receiver.url + path}).json()
        assert transfer["transfer"]["type"] == "TORRENT"
        assert transfer["transfer"]["name"] == "Fetched" and transfer["transfer"]["size"] == 200
    missing = http.post(f"{api}/transfers/add", data={"url": receiver.url + "/t/none.torrent"})
    emulator.clock.advance(2)
    failed = get_transfer(http, api, missing.json()["transfer"]["id"])
    assert failed["status"] == "ERROR" and "404" in failed["error_message"]


def emulator_upload(api: str) -> str:
    return api.replace("/v2", "/upload/v2")


# ---- seeding, callbacks, dead transfers ----------------------------------------------------


def test_seeding_before_completed(tmp_path):
    emu = Emulator(token="t", clock=ManualClock(), seed_time=10.0)
    try:
        transfer_id = emu.add_transfer(MAGNET)
        emu.clock.advance(4.5)
        seeding = emu.transfer_dict(transfer_id)
        assert seeding["status"] == "SEEDING" and seeding["file_id"] is not None
        assert seeding["seconds_seeding"] >= 0 and isinstance(seeding["current_ratio"], float)
        emu.clock.advance(10)
        completed = emu.transfer_dict(transfer_id)
        assert completed["status"] == "COMPLETED" and completed["seconds_seeding"] == 10
    finally:
        emu.close()


def test_callback_url_receives_a_form_post(http, api, emulator, receiver):
    callback = f"{receiver.url}/putio-callback"
    transfer = http.post(
        f"{api}/transfers/add", data={"url": MAGNET, "callback_url": callback}
    ).json()["transfer"]
    assert transfer["callback_url"] == callback
    emulator.clock.advance(10)
    assert receiver.got_post.wait(10), "no callback arrived"
    assert emulator.wait_callbacks(10)
    form = receiver.posts[0]
    assert form["id"] == str(transfer["id"]) and form["status"] == "COMPLETED"
    assert form["file_id"] == str(emulator.transfer_dict(transfer["id"])["file_id"])
    assert form["name"] == "Some.Movie.2020.1080p" and form["error_message"] == ""


def test_failed_callback_is_an_event(http, api, emulator, receiver):
    receiver.fail_posts = True
    http.post(f"{api}/transfers/add", data={"url": MAGNET, "callback_url": receiver.url + "/cb"})
    emulator.clock.advance(10)
    assert emulator.wait_callbacks(10)
    errors = [e for e in emulator.events if e["type"] == "transfer_callback_error"]
    assert len(errors) == 1 and "500" in errors[0]["message"]


def test_dead_transfer_errors_and_can_be_retried(http, api, emulator):
    emulator.mark_dead("Some.Movie")
    tid = http.post(f"{api}/transfers/add", data={"url": MAGNET}).json()["transfer"]["id"]
    emulator.clock.advance(1.5)
    failed = get_transfer(http, api, tid)
    assert failed["status"] == "ERROR" and failed["error_message"]
    assert failed["file_id"] is None
    assert http.get(f"{api}/events/list").json()["events"][0]["type"] == "transfer_error"
    emulator.clear_dead()
    retried = http.post(f"{api}/transfers/retry", data={"id": tid}).json()["transfer"]
    assert retried["status"] == "IN_QUEUE" and retried["error_message"] is None
    emulator.clock.advance(10)
    assert get_transfer(http, api, tid)["status"] == "COMPLETED"
    again = http.post(f"{api}/transfers/retry", data={"id": tid})
    assert again.status_code == 400


def test_dead_by_info_hash(emulator):
    emulator.mark_dead(HASH.upper()[:10])
    transfer_id = emulator.add_transfer(f"magnet:?xt=urn:btih:{HASH}")
    emulator.clock.advance(5)
    assert emulator.transfers[transfer_id].status == "ERROR"


# ---- list, cancel, clean, remove ---------------------------------------------------------------


def test_list_count_and_paging(http, api, emulator):
    ids = [emulator.add_transfer(f"magnet:?xt=urn:btih:{i:040x}") for i in range(5)]
    listing = http.get(f"{api}/transfers/list").json()
    assert [t["id"] for t in listing["transfers"]] == ids and listing["cursor"] is None
    first = http.get(f"{api}/transfers/list?per_page=2&total=1").json()
    assert first["total"] == 5 and len(first["transfers"]) == 2
    rest = http.post(
        f"{api}/transfers/list/continue", data={"cursor": first["cursor"], "per_page": 3}
    )
    assert [t["id"] for t in rest.json()["transfers"]] == ids[2:]
    assert http.get(f"{api}/transfers/list?per_page=1001").status_code == 400
    assert http.get(f"{api}/transfers/count").json()["count"] == 5
    missing = http.get(f"{api}/transfers/999999")
    assert missing.status_code == 404 and missing.json()["error_type"] == "TRANSFER_NOT_FOUND"


def test_cancel_clean_remove(http, api, emulator):
    emulator.mark_dead("dead")
    done = emulator.add_transfer(f"magnet:?xt=urn:btih:{1:040x}")
    failed = emulator.add_transfer(f"magnet:?xt=urn:btih:{2:040x}&dn=dead")
    emulator.clock.advance(30)
    running = emulator.add_transfer(f"magnet:?xt=urn:btih:{3:040x}")
    other = emulator.add_transfer(f"magnet:?xt=urn:btih:{4:040x}")
    cleaned = http.post(f"{api}/transfers/clean").json()
    assert sorted(cleaned["deleted_ids"]) == sorted([done, failed])
    assert http.post(f"{api}/transfers/cancel", data={"transfer_ids": f"{running},424242"}).ok
    assert emulator.transfer_ids() == [other]
    assert http.post(f"{api}/transfers/remove", data={"remove_filter": "all"}).ok
    assert emulator.transfer_ids() == []


def test_events_paging(http, api, emulator):
    for index in range(5):
        emulator.upload_file(f"{index}.txt", b"x")
    first = http.get(f"{api}/events/list?per_page=2").json()
    assert [e["file_name"] for e in first["events"]] == ["4.txt", "3.txt"]
    assert first["has_more"] is True
    older = http.get(f"{api}/events/list?before={first['events'][-1]['id']}").json()
    assert [e["file_name"] for e in older["events"]] == ["2.txt", "1.txt", "0.txt"]
    assert older["has_more"] is False
    event = older["events"][0]
    assert {"id", "type", "user_id", "created_at"} <= set(event)
    assert event["created_at"][10] == " "
    bad = http.get(f"{api}/events/list?per_page=0")
    assert bad.status_code == 400 and bad.json()["error_type"] == "INVALID_PER_PAGE"


def test_emulator_server_with_callbacks_stops_cleanly(receiver):
    emu = Emulator(token="t", clock=ManualClock())
    with EmulatorServer(emu):
        emu.add_transfer(MAGNET, callback_url=receiver.url + "/cb")
        emu.clock.advance(10)
        assert receiver.got_post.wait(10)
    emu.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("putio-emulator")]
