"""The put.io emulator through the Flask test client: auth, listing, cursors, File objects."""

from __future__ import annotations

import struct
import zlib

import pytest

from putbridge.emulator import create_emulator_app

ALWAYS_PRESENT = {
    "id",
    "name",
    "parent_id",
    "file_type",
    "content_type",
    "size",
    "crc32",
    "created_at",
    "updated_at",
    "first_accessed_at",
    "is_mp4_available",
    "is_shared",
    "is_hidden",
    "screenshot",
    "icon",
    "opensubtitles_hash",
    "extension",
    "folder_type",
}


@pytest.fixture
def client(emulator):
    app = create_emulator_app(emulator)
    return app.test_client()


@pytest.fixture
def auth(emulator):
    return {"Authorization": f"token {emulator.token}"}


def reference_oshash(data: bytes) -> str:
    """The OpenSubtitles hash as its reference implementation computes it (files >= 128 KiB)."""
    block = 65536
    assert len(data) >= 2 * block
    total = len(data)
    for chunk in (data[:block], data[-block:]):
        total += sum(struct.unpack(f"<{block // 8}q", chunk))
        total &= 0xFFFFFFFFFFFFFFFF
    return f"{total:016x}"


# ---- auth ------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["token", "Token", "Bearer", "bearer", "TOKEN"])
def test_every_authorization_scheme_is_accepted(client, emulator, scheme):
    response = client.get("/v2/files/list", headers={"Authorization": f"{scheme} {emulator.token}"})
    assert response.status_code == 200
    assert response.json["status"] == "OK"


def test_oauth_token_query_parameter_is_accepted(client, emulator):
    response = client.get(f"/v2/account/info?oauth_token={emulator.token}")
    assert response.status_code == 200
    assert response.json["info"]["account_status"] == "active"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "token wrong"}, {"Authorization": "Basic abc"}, {"Authorization": "x"}],
)
def test_missing_or_bad_token_is_a_401_error_json(client, headers):
    response = client.get("/v2/files/list", headers=headers)
    assert response.status_code == 401
    assert response.content_type == "application/json"
    body = response.json
    assert body["status"] == "ERROR"
    assert body["status_code"] == 401
    assert body["error_type"] == "invalid_grant"
    assert body["error_message"]


def test_cors_header_on_success_and_error(client, auth):
    assert client.get("/v2/files/list", headers=auth).headers["Access-Control-Allow-Origin"] == "*"
    assert client.get("/v2/files/list").headers["Access-Control-Allow-Origin"] == "*"


def test_unknown_route_is_a_404_error_json(client, auth):
    response = client.get("/v2/no/such/route", headers=auth)
    assert response.status_code == 404
    assert response.json["error_type"] == "NotFound"
    assert client.get("/nothing-here").json["status"] == "ERROR"


def test_validate_tells_good_and_bad_tokens_apart(client, emulator):
    good = client.get(f"/v2/oauth2/validate?oauth_token={emulator.token}").json
    assert good["result"] is True and good["user_id"] == emulator.user_id
    bad = client.get("/v2/oauth2/validate?oauth_token=nope").json
    assert bad["result"] is False and bad["user_id"] is None


# ---- listing -----------------------------------------------------------------------------------


def test_root_listing_has_parent_root_and_no_cursor(client, emulator, auth):
    emulator.add_folder("Movies")
    emulator.add_file("notes.txt")
    body = client.get("/v2/files/list", headers=auth).json
    assert [f["name"] for f in body["files"]] == ["Movies", "notes.txt"]
    assert body["parent"]["id"] == 0 and body["parent"]["parent_id"] is None
    assert body["cursor"] is None


def test_flat_listing_pages_with_cursors(client, emulator, auth):
    folder = emulator.add_folder("Many")
    for index in range(2499):
        emulator.add_file(f"file{index:04d}.mkv", folder)
    first = client.get("/v2/files/list?parent_id=-1&per_page=1000&total=1", headers=auth).json
    assert first["total"] == 2500
    assert len(first["files"]) == 1000 and first["cursor"]
    seen = [f["id"] for f in first["files"]]
    cursor, pages = first["cursor"], 1
    emulator.add_file("added-while-listing.txt")  # must not shift the running listing
    while cursor:
        page = client.post("/v2/files/list/continue", data={"cursor": cursor}, headers=auth).json
        seen += [f["id"] for f in page["files"]]
        cursor, pages = page["cursor"], pages + 1
    assert pages == 3
    assert len(seen) == len(set(seen)) == 2500
    assert 0 not in seen


def test_continue_accepts_json_body_and_per_page(client, emulator, auth):
    for index in range(5):
        emulator.add_file(f"f{index}.txt")
    first = client.get("/v2/files/list?per_page=2", headers=auth).json
    page = client.post(
        "/v2/files/list/continue", json={"cursor": first["cursor"], "per_page": 3}, headers=auth
    ).json
    assert [f["name"] for f in page["files"]] == ["f2.txt", "f3.txt", "f4.txt"]
    assert page["cursor"] is None
    again = client.post(
        "/v2/files/list/continue?per_page=3", data={"cursor": first["cursor"]}, headers=auth
    ).json
    assert [f["id"] for f in again["files"]] == [f["id"] for f in page["files"]]


def test_without_per_page_everything_comes_in_one_page(client, emulator, auth):
    folder = emulator.add_folder("Big")
    for index in range(1200):
        emulator.add_file(f"{index}.mkv", folder)
    body = client.get(f"/v2/files/list?parent_id={folder}", headers=auth).json
    assert len(body["files"]) == 1200 and body["cursor"] is None


@pytest.mark.parametrize("per_page", ["1001", "0", "-5"])
def test_bad_per_page_is_a_400(client, auth, per_page):
    response = client.get(f"/v2/files/list?per_page={per_page}", headers=auth)
    assert response.status_code == 400
    assert response.json["error_type"] == "INVALID_PER_PAGE"


@pytest.mark.parametrize("cursor", ["garbage", "", "Zm9vOjEw"])
def test_bad_cursor_is_a_400(client, auth, cursor):
    response = client.post("/v2/files/list/continue", data={"cursor": cursor}, headers=auth)
    assert response.status_code == 400
    assert response.json["status"] == "ERROR"


def test_sort_by(client, emulator, auth):
    emulator.add_file("b.txt", size=30)
    emulator.add_file("A.txt", size=10)
    emulator.add_file("c.txt", size=20)

    def names(sort_by):
        body = client.get(f"/v2/files/list?sort_by={sort_by}", headers=auth).json
        return [f["name"] for f in body["files"]]

    assert names("NAME_ASC") == ["A.txt", "b.txt", "c.txt"]
    assert names("NAME_DESC") == ["c.txt", "b.txt", "A.txt"]
    assert names("SIZE_ASC") == ["A.txt", "c.txt", "b.txt"]
    assert names("DATE_DESC") == ["c.txt", "A.txt", "b.txt"]
    bad = client.get("/v2/files/list?sort_by=SHOE_SIZE_ASC", headers=auth)
    assert bad.status_code == 400


def test_file_type_and_content_type_filters(client, emulator, auth):
    emulator.add_folder("Folder")
    emulator.add_file("movie.mkv")
    emulator.add_file("clip.mp4")
    emulator.add_file("readme.txt")

    def names(query):
        return [
            f["name"] for f in client.get(f"/v2/files/list?{query}", headers=auth).json["files"]
        ]

    assert names("file_type=VIDEO") == ["movie.mkv", "clip.mp4"]
    assert names("file_type=FOLDER,TEXT") == ["Folder", "readme.txt"]
    assert names("content_type=video/mp4") == ["clip.mp4"]
    assert names("content_type=video/*") == ["movie.mkv", "clip.mp4"]
    assert client.get("/v2/files/list?file_type=BOGUS", headers=auth).status_code == 400


def test_putiopy_style_params_are_tolerated(client, emulator, auth):
    emulator.add_file("x.mkv")
    query = (
        "parent_id=0&per_page=1000&sort_by=&content_type=&file_type=&stream_url=False"
        "&stream_url_parent=False&mp4_stream_url=False&hidden=False&mp4_status=False"
    )
    body = client.get(f"/v2/files/list?{query}", headers=auth).json
    assert [f["name"] for f in body["files"]] == ["x.mkv"]
    assert "stream_url" not in body["files"][0]


def test_listing_a_file_id_gives_no_children_and_the_file_as_parent(client, emulator, auth):
    file_id = emulator.add_file("only.mkv")
    body = client.get(f"/v2/files/list?parent_id={file_id}&stream_url_parent=1", headers=auth).json
    assert body["files"] == []
    assert body["parent"]["id"] == file_id
    assert body["parent"]["stream_url"].startswith("http://localhost/blob/")


def test_unknown_parent_is_a_404(client, auth):
    assert client.get("/v2/files/list?parent_id=987654", headers=auth).status_code == 404


# ---- File objects ------------------------------------------------------------------------------


def test_file_objects_are_complete(client, emulator, auth):
    folder = emulator.add_folder("Movies")
    video = emulator.add_file("Film.2010.mkv", folder, size=300_000)
    emulator.add_file("Film.2010.nfo", folder)
    body = client.get(f"/v2/files/list?parent_id={folder}", headers=auth).json
    for item in [body["parent"], *body["files"]]:
        assert ALWAYS_PRESENT <= set(item)
        assert len(item["created_at"]) == 19 and item["created_at"][10] == "T"
    assert body["parent"]["content_type"] == "application/x-directory"
    assert body["parent"]["crc32"] is None
    data = client.get(f"/v2/files/{video}", headers=auth).json["file"]
    assert data["file_type"] == "VIDEO" and data["extension"] == "mkv"
    assert data["is_mp4_available"] is True and data["folder_type"] == "REGULAR"
    assert data["screenshot"] == f"http://localhost/v2/files/{video}/screenshot.jpg"
    assert len(data["crc32"]) == 8 and len(data["opensubtitles_hash"]) == 16
    nfo = body["files"][1]
    assert nfo["file_type"] == "TEXT" and nfo["opensubtitles_hash"] is None


def test_folder_size_is_cumulative(client, emulator, auth):
    show = emulator.add_folder("Show")
    season = emulator.add_folder("Season 01", show)
    emulator.add_file("e1.mkv", season, size=1000)
    emulator.add_file("e2.mkv", season, size=2000)
    emulator.add_file("poster.jpg", show, size=500)
    assert client.get(f"/v2/files/{show}", headers=auth).json["file"]["size"] == 3500
    assert client.get("/v2/files/0", headers=auth).json["file"]["size"] == 3500
    client.post("/v2/files/delete", data={"file_ids": str(season)}, headers=auth)
    assert client.get(f"/v2/files/{show}", headers=auth).json["file"]["size"] == 500


def test_crc32_and_opensubtitles_hash_match_the_served_bytes(client, emulator, auth):
    video = emulator.add_path("/Movies/Big (2010)/Big.mkv", size=300_000)
    explicit = emulator.add_file("notes.txt", content=b"hello put.io\n" * 100)
    for file_id in (video, explicit):
        meta = client.get(f"/v2/files/{file_id}", headers=auth).json["file"]
        location = client.get(f"/v2/files/{file_id}/download", headers=auth).headers["Location"]
        data = client.get(location).data
        assert len(data) == meta["size"]
        assert meta["crc32"] == f"{zlib.crc32(data):08x}"
    meta = client.get(f"/v2/files/{video}", headers=auth).json["file"]
    location = client.get(f"/v2/files/{video}/download", headers=auth).headers["Location"]
    assert meta["opensubtitles_hash"] == reference_oshash(client.get(location).data)


def test_get_unknown_file_is_a_404_error_json(client, auth):
    response = client.get("/v2/files/424242", headers=auth)
    assert response.status_code == 404
    assert response.json["status"] == "ERROR" and response.json["error_type"] == "NotFound"


def test_child_by_name(client, emulator, auth):
    folder = emulator.add_folder("Movies")
    file_id = emulator.add_file("a.mkv", folder)
    body = client.get(f"/v2/files/{folder}/child?name=a.mkv", headers=auth).json
    assert body["file"]["id"] == file_id
    assert client.get(f"/v2/files/{folder}/child?name=zz", headers=auth).status_code == 404


# ---- folder operations ---------------------------------------------------------------------


def test_create_folder_and_its_errors(client, emulator, auth):
    body = client.post(
        "/v2/files/create-folder", data={"name": "New", "parent_id": 0}, headers=auth
    )
    assert body.status_code == 200
    assert body.json["file"]["file_type"] == "FOLDER"
    assert emulator.file_by_path("/New") == body.json["file"]["id"]
    cases = {"New": "NAME_ALREADY_EXIST", "": "EMPTY_NAME", "a/b": "SLASH_IN_NAME"}
    for name, error_type in cases.items():
        response = client.post("/v2/files/create-folder", json={"name": name}, headers=auth)
        assert response.status_code == 400
        assert response.json["error_type"] == error_type


def test_delete_rename_move(client, emulator, auth):
    a = emulator.add_folder("A")
    b = emulator.add_folder("B")
    inner = emulator.add_file("x.mkv", a)
    deep = emulator.add_file("y.mkv", emulator.add_folder("Deep", a))
    moved = client.post(
        "/v2/files/move", data={"file_ids": str(inner), "parent_id": b}, headers=auth
    )
    assert moved.json == {"status": "OK", "errors": []}
    assert emulator.file_by_path("/B/x.mkv") == inner
    client.post("/v2/files/rename", data={"file_id": inner, "name": "z.mkv"}, headers=auth)
    assert emulator.file_by_path("/B/z.mkv") == inner
    body = client.post("/v2/files/delete", data={"file_ids": f"{a},999999"}, headers=auth).json
    assert body == {"status": "OK", "cursor": None, "skipped": 1}
    assert deep not in emulator.files and a not in emulator.files
    assert client.post("/v2/files/delete", data={"file_id": inner}, headers=auth).status_code == 200
    assert inner not in emulator.files


def test_search(client, emulator, auth):
    emulator.add_path("/Movies/Sintel (2010)/Sintel.mkv")
    emulator.add_path("/Movies/Other/other.mkv")
    body = client.get("/v2/files/search?query=sintel", headers=auth).json
    assert sorted(f["name"] for f in body["files"]) == ["Sintel (2010)", "Sintel.mkv"]
    assert body["total"] == 2


def test_account_info_and_settings(client, emulator, auth):
    emulator.add_file("a.mkv", size=1234)
    info = client.get("/v2/account/info", headers=auth).json["info"]
    assert info["disk"]["used"] == 1234
    assert info["settings"]["default_download_folder"] == 0
    assert info["settings"]["callback_url"] is None
    assert client.get("/v2/account/settings", headers=auth).json["settings"]["sort_by"]


def test_stats_count_api_requests_by_route(client, emulator, auth):
    emulator.reset_stats()
    client.get("/v2/files/list", headers=auth)
    client.get("/v2/files/list")  # a 401 still counts
    client.get("/v2/files/0", headers=auth)
    client.get("/_emulator/stats")  # control routes do not
    stats = emulator.stats
    assert stats["requests"] == 3
    assert stats["by_route"]["GET /files/list"] == 2
    assert stats["by_route"]["GET /files/<file_id>"] == 1
