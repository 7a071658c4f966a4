"""The emulator over real HTTP: downloads with Range, signed links, HLS, subtitles, faults,
OOB codes, control routes and the server's lifecycle."""

from __future__ import annotations

import threading
import time
import zlib

import pytest
import requests

from putbridge.emulator import Emulator, EmulatorServer, ManualClock, RealClock


def blob_location(http, api, file_id):
    response = http.get(f"{api}/files/{file_id}/download", allow_redirects=False)
    assert response.status_code == 302
    return response.headers["Location"]


# ---- downloads ---------------------------------------------------------------------------------


def test_download_redirects_to_a_blob_serving_the_bytes(http, api, emulator, emulator_server):
    file_id = emulator.add_file("Movie.mkv", size=200_000)
    location = blob_location(http, api, file_id)
    assert location.startswith(emulator_server.base_url + "/blob/")
    with requests.get(location) as response:  # no token needed: the link is signed
        assert response.status_code == 200
        assert response.headers["Accept-Ranges"] == "bytes"
        assert response.headers["Content-Type"] == "video/x-matroska"
        data = response.content
    assert len(data) == 200_000
    meta = http.get(f"{api}/files/{file_id}").json()["file"]
    assert meta["crc32"] == f"{zlib.crc32(data):08x}"
    assert meta["first_accessed_at"] is not None


@pytest.mark.parametrize("route", ["download/Movie.mkv", "stream", "mp4/stream"])
def test_other_download_routes_redirect_too(http, api, emulator, route):
    file_id = emulator.add_file("Movie.mp4")
    response = http.get(f"{api}/files/{file_id}/{route}", allow_redirects=False)
    assert response.status_code == 302
    assert "/blob/" in response.headers["Location"]


def test_head_download_gives_the_location(http, api, emulator):
    file_id = emulator.add_file("Movie.mp4")
    response = http.head(f"{api}/files/{file_id}/download", allow_redirects=False)
    assert response.status_code == 302 and "/blob/" in response.headers["Location"]
    head = requests.head(response.headers["Location"])
    assert head.status_code == 200
    assert int(head.headers["Content-Length"]) == emulator.files[file_id].size
    assert head.content == b""


def test_url_endpoint(http, api, emulator):
    file_id = emulator.add_file("a.txt", content=b"0123456789")
    url = http.get(f"{api}/files/{file_id}/url").json()["url"]
    assert requests.get(url).content == b"0123456789"


@pytest.mark.parametrize(
    ("header", "expected", "content_range"),
    [
        ("bytes=2-5", b"2345", "bytes 2-5/10"),
        ("bytes=7-", b"789", "bytes 7-9/10"),
        ("bytes=-3", b"789", "bytes 7-9/10"),
        ("bytes=8-100", b"89", "bytes 8-9/10"),
    ],
)
def test_range_requests(http, api, emulator, header, expected, content_range):
    file_id = emulator.add_file("a.txt", content=b"0123456789")
    response = requests.get(blob_location(http, api, file_id), headers={"Range": header})
    assert response.status_code == 206
    assert response.content == expected
    assert response.headers["Content-Range"] == content_range
    assert response.headers["Content-Length"] == str(len(expected))


def test_unsatisfiable_range_is_416(http, api, emulator):
    file_id = emulator.add_file("a.txt", content=b"0123456789")
    response = requests.get(blob_location(http, api, file_id), headers={"Range": "bytes=10-"})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == "bytes */10"


def test_range_deep_inside_a_large_padded_video(http, api, emulator):
    file_id = emulator.add_file("Big.mkv", size=5 * 1024**3)
    location = blob_location(http, api, file_id)
    response = requests.get(location, headers={"Range": "bytes=4000000000-4000000099"})
    assert response.status_code == 206
    assert response.content == bytes(100)
    start = requests.get(location, headers={"Range": "bytes=0-3"})
    assert start.content == b"\x1a\x45\xdf\xa3"  # the EBML magic of the MKV sample


def test_bad_or_expired_signature_is_refused(http, api, emulator):
    file_id = emulator.add_file("a.txt", content=b"secret")
    location = blob_location(http, api, file_id)
    parts = location.split("/")
    parts[-2] = "0" * 32
    assert requests.get("/".join(parts)).status_code == 403
    other = emulator.add_file("b.txt")
    assert requests.get(location.replace(f"/blob/{file_id}/", f"/blob/{other}/")).status_code == 403
    emulator.link_ttl = -10
    expired = blob_location(http, api, file_id)
    response = requests.get(expired)
    assert response.status_code == 410
    assert response.json()["error_type"] == "LINK_EXPIRED"


def test_download_of_a_folder_is_not_a_file(http, api, emulator):
    folder = emulator.add_folder("F")
    response = http.get(f"{api}/files/{folder}/download", allow_redirects=False)
    assert response.status_code == 400 and response.json()["error_type"] == "NotFile"


def test_screenshot_is_a_real_jpeg(http, api, emulator):
    file_id = emulator.add_file("a.mkv")
    url = http.get(f"{api}/files/{file_id}").json()["file"]["screenshot"]
    response = requests.get(url)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.content[:3] == b"\xff\xd8\xff"


# ---- HLS -------------------------------------------------------------------------------------


def test_hls_playlist_and_segments(http, api, emulator):
    file_id = emulator.add_file("a.mkv", size=10_000_000)
    response = http.get(f"{api}/files/{file_id}/hls/media.m3u8?subtitle_key=all")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/vnd.apple.mpegurl")
    lines = response.text.splitlines()
    assert lines[0] == "#EXTM3U"
    assert any(line.startswith("#EXT-X-VERSION:") for line in lines)
    assert any(line.startswith("#EXT-X-TARGETDURATION:") for line in lines)
    assert lines[-1] == "#EXT-X-ENDLIST"
    durations = [float(line[8:].rstrip(",")) for line in lines if line.startswith("#EXTINF:")]
    segments = [line for line in lines if line and not line.startswith("#")]
    assert len(segments) == len(durations) >= 2
    assert sum(durations) == pytest.approx(2.0, abs=0.1)
    for url in segments:
        segment = requests.get(url)
        assert segment.status_code == 200
        assert segment.content[0] == 0x47  # MPEG-TS sync byte
    prefix, _signature, name = segments[0].rsplit("/", 2)
    assert requests.get(f"{prefix}/{'f' * 32}/{name}").status_code == 403


def test_hls_of_a_non_video_is_invalid_media(http, api, emulator):
    file_id = emulator.add_file("a.txt")
    response = http.get(f"{api}/files/{file_id}/hls/media.m3u8")
    assert response.status_code == 400 and response.json()["error_type"] == "INVALID_MEDIA"


# ---- subtitles -------------------------------------------------------------------------------


def test_subtitles_from_the_folder_and_opensubtitles(http, api, emulator):
    folder = emulator.add_folder("Film (2010)")
    video = emulator.add_file("Film.2010.mkv", folder)
    emulator.add_file("Film.2010.en.srt", folder, content=b"1\n00:00:00,500 --> 00:00:01,500\nHi\n")
    emulator.add_file("Film.2010.fr.srt", folder)
    emulator.add_file("Other.srt", folder)
    body = http.get(f"{api}/files/{video}/subtitles").json()
    subtitles = body["subtitles"]
    assert [(s["source"], s["language_code"]) for s in subtitles] == [
        ("folder", "eng"),
        ("folder", "fre"),
        ("opensubtitles", "eng"),
    ]
    assert body["default"] == subtitles[0]["key"]
    for item in subtitles:
        assert {"key", "language", "language_code", "name", "source", "format", "url"} <= set(item)
    srt = http.get(f"{api}/files/{video}/subtitles/{subtitles[0]['key']}")
    assert srt.text == "1\n00:00:00,500 --> 00:00:01,500\nHi\n"
    default = http.get(f"{api}/files/{video}/subtitles/default?format=webvtt")
    assert default.text.startswith("WEBVTT\n") and "00:00:00.500 --> 00:00:01.500" in default.text
    generated = http.get(subtitles[2]["url"]).text
    assert "00:00:00,000 --> 00:00:01,000" in generated
    assert http.get(f"{api}/files/{video}/subtitles/nope").status_code == 404


def test_every_video_has_a_subtitle(http, api, emulator):
    video = emulator.add_file("Lonely.mp4")
    subtitles = http.get(f"{api}/files/{video}/subtitles").json()["subtitles"]
    assert len(subtitles) == 1 and subtitles[0]["source"] == "opensubtitles"


# ---- faults ------------------------------------------------------------------------------------


def test_rate_limit_gives_429_with_headers(http, api, emulator):
    emulator.set_faults(rate_limit=(3, 60.0))
    codes = [http.get(f"{api}/files/list").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = http.get(f"{api}/files/list")
    assert response.status_code == 429
    body = response.json()
    assert body["error_type"] == "RATE_LIMIT_ERROR" and body["status_code"] == 429
    assert response.headers["X-RateLimit-Limit"] == "3"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    reset = int(response.headers["X-RateLimit-Reset"])
    assert time.time() < reset <= time.time() + 61
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    emulator.set_faults(rate_limit=None)
    assert http.get(f"{api}/files/list").status_code == 200


def test_rate_limit_window_resets(http, api, emulator):
    emulator.set_faults(rate_limit=(1, 0.2))
    assert http.get(f"{api}/files/list").status_code == 200
    assert http.get(f"{api}/files/list").status_code == 429
    deadline = time.monotonic() + 5
    while http.get(f"{api}/files/list").status_code == 429:
        assert time.monotonic() < deadline, "the rate-limit window never reset"
        time.sleep(0.05)


def test_error_rate_gives_503_error_json(http, api, emulator):
    emulator.set_faults(error_rate=1.0)
    response = http.get(f"{api}/files/list")
    assert response.status_code == 503
    assert response.json()["status"] == "ERROR" and response.json()["status_code"] == 503
    emulator.set_faults(error_rate=0.5)
    codes = {http.get(f"{api}/files/list").status_code for _ in range(40)}
    assert codes == {200, 503}
    assert emulator.stats["requests"] == 41


def test_latency_is_applied(http, api, emulator):
    emulator.set_faults(latency=0.2)
    started = time.monotonic()
    http.get(f"{api}/files/list")
    assert time.monotonic() - started >= 0.2


def test_fault_and_control_routes(http, emulator_server, emulator):
    base = emulator_server.base_url
    body = requests.post(
        f"{base}/_emulator/faults",
        json={"latency": 0.0, "error_rate": 0.25, "rate_limit": {"limit": 5, "window": 2}},
    ).json()
    assert body["faults"] == {
        "latency": 0.0,
        "error_rate": 0.25,
        "rate_limit": {"limit": 5, "window": 2.0},
    }
    assert emulator.faults.rate_limit == (5, 2.0)
    requests.post(f"{base}/_emulator/faults", json={"error_rate": 0})
    assert emulator.faults.rate_limit == (5, 2.0)  # unspecified knobs stay as they are
    requests.post(f"{base}/_emulator/faults", json={"rate_limit": None})
    assert emulator.faults.rate_limit is None
    now = emulator.clock.now()
    requests.post(f"{base}/_emulator/clock/advance", json={"seconds": 30})
    assert emulator.clock.now() == now + 30
    requests.post(f"{base}/_emulator/dead", json={"substring": "deadbeef"})
    assert emulator._dead == ["deadbeef"]
    stats = requests.get(f"{base}/_emulator/stats").json()
    assert stats["requests"] == emulator.stats["requests"]
    added = requests.post(f"{base}/_emulator/files", json={"path": "/X/y.mkv", "size": 5}).json()
    assert emulator.file_by_path("/X/y.mkv") == added["file_id"]


# ---- OOB ---------------------------------------------------------------------------------------


def test_oob_flow(api, emulator, emulator_server):
    assert requests.get(f"{api}/oauth2/oob/code").status_code == 400  # app_id required
    body = requests.get(f"{api}/oauth2/oob/code?app_id=1234").json()
    code = body["code"]
    assert len(code) == 6 and code.isalnum() and code.upper() == code
    assert body["qr_code_url"].startswith("http")
    assert emulator.pending_codes() == [code]
    assert requests.get(f"{api}/oauth2/oob/code/{code}").json() == {
        "status": "OK",
        "oauth_token": None,
    }
    assert emulator.approve_code(code) == emulator.token
    linked = requests.get(f"{api}/oauth2/oob/code/{code}").json()
    assert linked == {"status": "OK", "oauth_token": emulator.token}
    assert emulator.pending_codes() == []
    assert requests.get(f"{api}/oauth2/oob/code/NOSUCH").status_code == 404


def test_oob_code_expires_after_ten_minutes(api, emulator):
    code = requests.get(f"{api}/oauth2/oob/code?app_id=1").json()["code"]
    emulator.clock.advance(601)
    assert requests.get(f"{api}/oauth2/oob/code/{code}").status_code == 404
    assert emulator.pending_codes() == []


def test_oob_approval_over_http(http, api, emulator, emulator_server):
    code = requests.get(f"{api}/oauth2/oob/code?app_id=1").json()["code"]
    assert http.post(f"{api}/oauth2/oob/code", data={"code": "ZZZZZZ"}).status_code == 404
    linked = http.post(f"{api}/oauth2/oob/code", data={"code": code}).json()
    assert linked["status"] == "OK" and "app" in linked
    assert requests.get(f"{api}/oauth2/oob/code/{code}").json()["oauth_token"] == emulator.token
    second = requests.get(f"{api}/oauth2/oob/code?app_id=1").json()["code"]
    base = emulator_server.base_url
    token = requests.post(f"{base}/_emulator/oob/approve", json={"code": second}).json()
    assert token["oauth_token"] == emulator.token
    third = requests.get(f"{api}/oauth2/oob/code?app_id=1").json()["code"]
    page = requests.post(f"{base}/link", data={"code": third.lower()})
    assert page.status_code == 200 and "Linked" in page.text
    assert requests.get(f"{api}/oauth2/oob/code/{third}").json()["oauth_token"] == emulator.token


# ---- uploads and the server ----------------------------------------------------------------------


def test_upload_of_a_regular_file(emulator_server, emulator):
    folder = emulator.add_folder("Up")
    response = requests.post(
        f"{emulator_server.upload_url}/files/upload?oauth_token={emulator.token}",
        files={"file": ("notes.txt", b"hello")},
        data={"parent_id": folder},
    )
    body = response.json()
    assert body["status"] == "OK" and body["file"]["name"] == "notes.txt"
    assert emulator.file_by_path("/Up/notes.txt") == body["file"]["id"]
    assert emulator.events[-1]["type"] == "upload"
    assert emulator.stats["by_route"]["POST /files/upload"] == 1
    unauth = requests.post(f"{emulator_server.upload_url}/files/upload", files={"file": b"x"})
    assert unauth.status_code == 401


def test_server_is_a_context_manager_and_stops_cleanly():
    emu = Emulator(token="t", clock=RealClock())
    try:
        with EmulatorServer(emu) as server:
            session = requests.Session()  # a keep-alive connection left open on purpose
            assert session.get(f"{server.api_url}/files/list?oauth_token=t").status_code == 200
            names = {t.name for t in threading.enumerate()}
            assert "putio-emulator-ticker" in names
        assert not server.running
        server.stop()  # idempotent
        with pytest.raises(requests.ConnectionError):
            session.get(f"{server.api_url}/files/list?oauth_token=t", timeout=2)
        session.close()
    finally:
        emu.close()
        emu.close()
    leftovers = [t.name for t in threading.enumerate() if t.name.startswith("putio-emulator")]
    assert leftovers == []


def test_server_urls(emulator):
    server = EmulatorServer(emulator, port=0)
    server.start()
    try:
        assert server.port > 0
        assert server.api_url == f"http://127.0.0.1:{server.port}/v2"
        assert server.upload_url == f"http://127.0.0.1:{server.port}/upload/v2"
    finally:
        server.stop()


def test_real_clock_ticker_completes_transfers_by_itself():
    emu = Emulator(token="t", clock=RealClock(), transfer_speed=10**12)
    try:
        with EmulatorServer(emu):
            transfer_id = emu.add_transfer("magnet:?xt=urn:btih:" + "c" * 40 + "&dn=Fast.mkv")
            deadline = time.monotonic() + 10
            while emu._transfers[transfer_id].status != "COMPLETED":
                assert time.monotonic() < deadline, "the ticker never completed the transfer"
                time.sleep(0.1)
    finally:
        emu.close()
    assert emu.file_by_path("/Fast.mkv") is not None


def test_manual_clock_emulator_does_not_tick_by_itself(emulator_server, emulator):
    assert isinstance(emulator.clock, ManualClock)
    names = {t.name for t in threading.enumerate()}
    assert "putio-emulator-ticker" not in names


def test_non_video_files_have_no_subtitles(http, api, emulator):
    file_id = emulator.add_file("notes.txt")
    assert http.get(f"{api}/files/{file_id}/subtitles").json() == {
        "status": "OK",
        "default": None,
        "subtitles": [],
    }
    assert http.get(f"{api}/files/{file_id}/subtitles/default").status_code == 404
    folder = emulator.add_folder("F")
    assert http.get(f"{api}/files/{folder}/subtitles").status_code == 400


def test_concurrent_requests_and_changes(emulator_server, emulator):
    folder = emulator.add_folder("Busy")
    errors: list[str] = []

    def lister() -> None:
        with requests.Session() as session:
            session.headers["Authorization"] = f"token {emulator.token}"
            for _ in range(15):
                response = session.get(f"{emulator_server.api_url}/files/list?parent_id=-1")
                if response.status_code != 200:
                    errors.append(response.text)

    threads = [threading.Thread(target=lister) for _ in range(4)]
    for thread in threads:
        thread.start()
    for index in range(300):
        emulator.add_file(f"{index}.mkv", folder)
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(emulator.files[folder].children) == 300
