"""The official put.io client (putio.py, module putiopy) works against the served emulator."""

from __future__ import annotations

import zlib

import putiopy
import pytest
import requests
import torf


@pytest.fixture
def client(emulator_server, emulator, monkeypatch):
    monkeypatch.setattr(putiopy, "BASE_URL", emulator_server.api_url)
    monkeypatch.setattr(putiopy, "UPLOAD_URL", emulator_server.upload_url + "/files/upload")
    putio = putiopy.Client(emulator.token, timeout=10)
    yield putio
    putio.close()


def test_list_follows_the_cursor_past_1000_files(client, emulator):
    folder = emulator.add_folder("Lots")
    for index in range(1234):
        emulator.add_file(f"Episode {index:04d}.mkv", folder)
    emulator.reset_stats()
    files = client.File.list(parent_id=folder)
    assert len(files) == 1234
    assert len({f.id for f in files}) == 1234
    assert emulator.stats["by_route"] == {"GET /files/list": 1, "POST /files/list/continue": 1}
    assert files[0].created_at is not None  # putiopy parsed put.io's timestamp format


def test_get_download_link_and_bytes(client, emulator):
    file_id = emulator.add_path("/Movies/Film (2001)/Film.mkv", size=123_456)
    item = client.File.get(file_id)
    assert item.name == "Film.mkv" and item.size == 123_456
    link = item.get_download_link()  # HEAD /files/<id>/download -> 302 Location
    assert "/blob/" in link
    data = requests.get(link).content
    assert f"{zlib.crc32(data):08x}" == item.crc32
    assert item.get_stream_link().startswith("http")


def test_download_verifies_crc(client, emulator, tmp_path):
    file_id = emulator.add_file("Clip.mp4", size=300_000)
    item = client.File.get(file_id)
    item.download(dest=str(tmp_path))
    assert item._verify_file(str(tmp_path / "Clip.mp4"))


def test_subtitles_and_account(client, emulator):
    file_id = emulator.add_file("Film.mkv")
    subtitles = client.File.get(file_id).get_subtitles()
    assert subtitles and subtitles[0].get_download_link().startswith("http")
    assert client.Account.info()["info"]["username"] == emulator.username
    assert client.Account.settings()["settings"]["default_download_folder"] == 0


def test_delete(client, emulator):
    file_id = emulator.add_file("gone.txt")
    assert client.File.get(file_id).delete()["status"] == "OK"
    assert file_id not in emulator.files
    with pytest.raises(putiopy.ClientError) as raised:
        client.File.get(file_id)
    assert raised.value.type == "NotFound"


def test_create_folder_rename_move(client, emulator):
    folder = client.File.create_folder("New", parent_id=0)
    item = client.File.get(emulator.add_file("a.mkv"))
    item.rename("b.mkv")
    item.move(folder.id)
    assert emulator.file_by_path("/New/b.mkv") == item.id


def test_transfers_add_url_torrent_list_get_cancel(client, emulator, tmp_path):
    target = emulator.add_folder("Downloads")
    magnet = "magnet:?xt=urn:btih:" + "d" * 40 + "&dn=Putiopy.Magnet.mkv"
    by_url = client.Transfer.add_url(magnet, parent_id=target)
    assert by_url.status == "IN_QUEUE" and by_url.save_parent_id == target

    pack = tmp_path / "Pack"
    pack.mkdir()
    (pack / "one.mkv").write_bytes(b"1" * 2048)
    (pack / "two.mkv").write_bytes(b"2" * 1024)
    torrent = torf.Torrent(path=pack)
    torrent.generate()
    torrent_file = tmp_path / "pack.torrent"
    torrent.write(torrent_file)
    by_torrent = client.Transfer.add_torrent(str(torrent_file), parent_id=target)
    assert by_torrent.name == "Pack" and by_torrent.hash == torrent.infohash
    assert by_torrent.size == 3072

    assert sorted(t.id for t in client.Transfer.list()) == sorted([by_url.id, by_torrent.id])
    emulator.clock.advance(60)
    done = client.Transfer.get(by_torrent.id)
    assert done.status == "COMPLETED" and done.file_id == emulator.file_by_path("/Downloads/Pack")
    assert [f.name for f in client.File.list(parent_id=done.file_id)] == ["one.mkv", "two.mkv"]

    by_url.cancel()
    assert [t.id for t in client.Transfer.list()] == [by_torrent.id]
    assert client.Transfer.clean()["status"] == "OK"
    assert client.Transfer.list() == []


def test_transfers_add_url_with_an_https_url(client, emulator):
    target = emulator.add_folder("Downloads")
    url = "https://downloads.example.com/releases/Some.Show.S01E01.1080p.mkv?token=abc"
    transfer = client.Transfer.add_url(url, parent_id=target)
    assert transfer.name == "Some.Show.S01E01.1080p.mkv"
    assert transfer.type == "URL" and transfer.source == url and transfer.hash is None
    assert transfer.status == "IN_QUEUE" and transfer.save_parent_id == target
    assert client.Transfer.get(transfer.id).file_id is None

    emulator.clock.advance(60)
    done = client.Transfer.get(transfer.id)
    assert done.status == "COMPLETED" and done.percent_done == 100
    path = "/Downloads/Some.Show.S01E01.1080p.mkv"
    assert done.file_id == emulator.file_by_path(path)
    item = client.File.get(done.file_id)
    assert item.name == "Some.Show.S01E01.1080p.mkv" and item.parent_id == target
    assert item.size == done.size > 0


def test_transfers_add_url_with_an_http_url_copies_its_bytes(client, emulator):
    source = client.File.get(emulator.add_file("Clip.mp4", size=200_000))
    url = source.get_download_link()  # an http:// link on this machine: the emulator fetches it
    assert url.startswith("http://")
    transfer = client.Transfer.add_url(url)
    assert transfer.type == "URL" and transfer.source == url and transfer.name == "Clip.mp4"
    emulator.clock.advance(60)
    done = client.Transfer.get(transfer.id)
    assert done.status == "COMPLETED"
    copy = client.File.get(done.file_id)
    assert copy.id != source.id and copy.name == "Clip.mp4"
    assert (copy.size, copy.crc32) == (source.size, source.crc32)


def test_errors_map_to_putiopy_exceptions(client, emulator):
    emulator.set_faults(error_rate=1.0)
    with pytest.raises(putiopy.ServerError):
        client.File.list()
    emulator.set_faults(error_rate=0.0, rate_limit=(1, 60))
    client.File.list()
    with pytest.raises(putiopy.ClientError) as raised:
        client.File.list()
    assert raised.value.type == "RATE_LIMIT_ERROR"
