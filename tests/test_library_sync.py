"""Library sync end to end: the emulator over HTTP, real folders, real SQLite, a real player
(ffprobe) opening the URL a written .strm holds through the bridge's own server."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from putbridge.cli import main
from putbridge.config import LibrarySettings, Settings
from putbridge.errors import AuthError
from putbridge.library.links import LinkSigner, StreamUrlCache, load_or_create_secret
from putbridge.library.sync import library_sync_from_settings
from putbridge.putio import PutioClient
from putbridge.store import Store
from tests.conftest import TEST_TOKEN
from tests.factories import probe_duration


def seed(emulator):
    emulator.add_path("/Movies/Heat (1995)/Heat.1995.1080p.BluRay.mkv")
    emulator.add_path("/Movies/Sintel.2010.720p.mkv")
    emulator.add_path("/Movies/Sintel.2010.720p.nfo", content=b"release notes")
    emulator.add_path("/TV/Show Name/Season 01/Show.Name.S01E01.720p.mkv")
    emulator.add_path("/TV/Show Name/Season 01/Show.Name.S01E02.720p.mkv")


@pytest.fixture
def settings(tmp_path):
    settings = Settings()
    settings.state.dir = str(tmp_path / "state")
    settings.server.public_url = "http://bridge.test:9091"
    settings.library = [
        LibrarySettings(path=str(tmp_path / "lib" / "Movies"), source="/Movies", layout="movies"),
        LibrarySettings(path=str(tmp_path / "lib" / "TV"), source="/TV", layout="shows"),
    ]
    return settings


@pytest.fixture
def store(settings):
    with Store(f"{settings.state.dir}/putbridge.db") as store:
        yield store


def files_under(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_full_sync_then_noop_then_changes(emulator, putio, settings, store, tmp_path):
    seed(emulator)
    sync = library_sync_from_settings(settings, putio, store)
    first = sync.sync_all()
    lib = tmp_path / "lib"
    assert files_under(lib) == [
        "Movies/Heat (1995)/Heat (1995).nfo",
        "Movies/Heat (1995)/Heat (1995).strm",
        "Movies/Sintel (2010)/Sintel (2010).nfo",
        "Movies/Sintel (2010)/Sintel (2010).strm",
        "TV/Show Name/Season 01/Show Name - S01E01.nfo",
        "TV/Show Name/Season 01/Show Name - S01E01.strm",
        "TV/Show Name/Season 01/Show Name - S01E02.nfo",
        "TV/Show Name/Season 01/Show Name - S01E02.strm",
        "TV/Show Name/tvshow.nfo",
    ]
    heat = (lib / "Movies/Heat (1995)/Heat (1995).strm").read_text().strip()
    heat_id = emulator.file_by_path("/Movies/Heat (1995)/Heat.1995.1080p.BluRay.mkv")
    assert heat.startswith(f"http://bridge.test:9091/stream/{heat_id}/")
    assert TEST_TOKEN not in heat
    assert first.requests == 1 and first.count("added") == 9
    assert sorted(map(str, first.changed)) == sorted(str(lib / p) for p in files_under(lib))

    again = sync.sync_all()
    assert again.count("added") + again.count("updated") + again.count("removed") == 0
    assert again.count("unchanged") == 9 and again.requests == 1

    # put.io loses a file and renames another: exactly those paths change.
    emulator.delete_file(heat_id)
    episode = emulator.file_by_path("/TV/Show Name/Season 01/Show.Name.S01E02.720p.mkv")
    emulator.tree.rename(episode, "Show.Name.S01E03.720p.mkv", emulator.clock.now())
    third = sync.sync_all()
    assert not (lib / "Movies/Heat (1995)").exists()  # its folder was emptied and removed
    assert (lib / "TV/Show Name/Season 01/Show Name - S01E03.strm").exists()
    assert not (lib / "TV/Show Name/Season 01/Show Name - S01E02.strm").exists()
    assert third.count("removed") == 4 and third.count("added") == 2


def test_changing_public_url_or_links_rewrites_every_strm(emulator, putio, settings, store):
    seed(emulator)
    library_sync_from_settings(settings, putio, store).sync_all()
    settings.server.public_url = "http://elsewhere.test:8000/"
    moved = library_sync_from_settings(settings, putio, store).sync_all()
    assert moved.count("updated") == 4  # the four .strm; the .nfo files did not change
    assert all(p.suffix == ".strm" for p in moved.changed)
    settings.library[0].links = "hls"
    relinked = library_sync_from_settings(settings, putio, store).sync_all()
    assert relinked.count("updated") == 2
    text = settings.library[0].path + "/Sintel (2010)/Sintel (2010).strm"
    assert Path(text).read_text().strip().endswith("/media.m3u8")


def test_dry_run_changes_nothing(emulator, putio, settings, store, tmp_path):
    seed(emulator)
    report = library_sync_from_settings(settings, putio, store).sync_all(dry_run=True)
    assert report.count("added") == 9
    assert not (tmp_path / "lib").exists() or files_under(tmp_path / "lib") == []


def test_sync_subtree_adds_a_completed_transfer_only(emulator, putio, settings, store, tmp_path):
    seed(emulator)
    sync = library_sync_from_settings(settings, putio, store)
    sync.sync_all()
    tv = emulator.file_by_path("/TV")
    transfer = putio.add_transfer(
        "magnet:?xt=urn:btih:" + "cd" * 20 + "&dn=Other.Show.S02E05.1080p.WEB.mkv",
        save_parent_id=tv,
    )
    emulator.clock.advance(600)
    done = putio.get_transfer(transfer.id)
    before = putio.request_count
    report = sync.sync_subtree(done.file_id)
    assert putio.request_count - before <= 4
    assert [p.relative_to(tmp_path / "lib").as_posix() for p in report.changed] == [
        "TV/Other Show/Season 02/Other Show - S02E05.strm",
        "TV/Other Show/Season 02/Other Show - S02E05.nfo",
        "TV/Other Show/tvshow.nfo",
    ] or sorted(p.name for p in report.changed) == sorted(
        ["Other Show - S02E05.strm", "Other Show - S02E05.nfo", "tvshow.nfo"]
    )
    assert report.count("removed") == 0
    assert (tmp_path / "lib/Movies/Sintel (2010)/Sintel (2010).strm").exists()


def test_sync_works_through_5xx_and_429(emulator, emulator_server, settings, store, tmp_path):
    seed(emulator)
    settings.library.append(
        LibrarySettings(path=str(tmp_path / "lib" / "Bulk"), source="/Bulk", layout="mirror")
    )
    for n in range(2100):
        emulator.add_path(f"/Bulk/Folder {n % 9}/file {n}.mkv", size=1000)
    emulator.set_faults(error_rate=0.3, rate_limit=(2, 1.0))
    with PutioClient(
        TEST_TOKEN,
        api_url=emulator_server.api_url,
        upload_url=emulator_server.upload_url,
        max_attempts=20,
        backoff_base=0.01,
    ) as client:
        report = library_sync_from_settings(settings, client, store).sync_all()
    pages = 3  # 2,100 files + 14 folders, 1,000 a page
    assert report.requests > pages  # some pages were refused (503 or 429) and asked again
    assert report.count("added") == 9 + 2100
    assert len(files_under(tmp_path / "lib" / "Bulk")) == 2100


def test_a_listing_failure_changes_nothing(emulator, emulator_server, settings, store, tmp_path):
    seed(emulator)
    with PutioClient(
        TEST_TOKEN, api_url=emulator_server.api_url, upload_url=emulator_server.upload_url
    ) as good:
        library_sync_from_settings(settings, good, store).sync_all()
    before = {p: (tmp_path / "lib" / p).read_text() for p in files_under(tmp_path / "lib")}
    emulator.delete_file(emulator.file_by_path("/Movies/Sintel.2010.720p.mkv"))
    with PutioClient(
        "revoked-token-1234", api_url=emulator_server.api_url, upload_url=emulator_server.upload_url
    ) as bad:
        with pytest.raises(AuthError):
            library_sync_from_settings(settings, bad, store).sync_all()
    after = {p: (tmp_path / "lib" / p).read_text() for p in files_under(tmp_path / "lib")}
    assert after == before


@pytest.mark.parametrize("links", ["bridge", "proxy", "hls"])
def test_ffprobe_plays_the_url_inside_a_written_strm(
    emulator, emulator_server, putio, settings, store, links, ffprobe
):
    from webhook import BridgeServer, create_app

    seed(emulator)
    signer = LinkSigner(load_or_create_secret(Path(settings.state.dir)))
    app = create_app(signer=signer, client=putio, url_cache=StreamUrlCache(putio.file_url))
    with BridgeServer(app) as bridge:
        settings.server.public_url = bridge.base_url
        settings.library[0].links = links
        library_sync_from_settings(settings, putio, store).sync_all()
        strm = f"{settings.library[0].path}/Sintel (2010)/Sintel (2010).strm"
        url = Path(strm).read_text().strip()
        assert url.startswith(bridge.base_url)
        duration = probe_duration(ffprobe, url)
    assert 1.5 < duration < 2.5  # the emulator's sample is 2 s long


def test_cli_sync_and_dry_run(emulator, emulator_server, tmp_path):
    seed(emulator)
    config = tmp_path / "putbridge.toml"
    config.write_text(
        f'[putio]\ntoken = "{TEST_TOKEN}"\napi_url = "{emulator_server.api_url}"\n'
        f'[state]\ndir = "{tmp_path / "state"}"\n'
        f'[[library]]\nsource = "/Movies"\npath = "{tmp_path / "lib"}"\nlayout = "movies"\n'
    )
    dry = CliRunner().invoke(main, ["--config", str(config), "sync", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "[dry run]" in dry.output and "4 added" in dry.output
    assert not (tmp_path / "lib").exists()
    real = CliRunner().invoke(main, ["--config", str(config), "sync"])
    assert real.exit_code == 0, real.output
    assert "4 added, 0 updated, 0 removed, 0 unchanged; 1 put.io requests" in real.output
    assert TEST_TOKEN not in real.output
    assert len(files_under(tmp_path / "lib")) == 4


def test_cli_sync_without_libraries_says_so(tmp_path):
    config = tmp_path / "putbridge.toml"
    config.write_text('[putio]\ntoken = "abcdefgh"\n')
    result = CliRunner().invoke(main, ["--config", str(config), "sync"])
    assert result.exit_code == 1
    assert "no [[library]] is configured" in result.output


def test_a_noop_resync_skips_planning(emulator, putio, settings, store, monkeypatch):
    from putbridge.library import sync as sync_module

    seed(emulator)
    sync = library_sync_from_settings(settings, putio, store)
    sync.sync_all()

    def must_not_plan(*args, **kwargs):
        raise AssertionError("planned although nothing changed")

    monkeypatch.setattr(sync_module, "plan_library", must_not_plan)
    again = sync.sync_all()
    assert again.count("unchanged") == 9 and not again.changed
    emulator.add_path("/Movies/New.Film.2020.1080p.mkv")
    monkeypatch.undo()
    third = sync.sync_all()
    assert third.count("added") == 2  # the new .strm and its .nfo


def test_a_source_folder_that_is_gone_leaves_the_library_alone(emulator, putio, settings, store):
    seed(emulator)
    sync = library_sync_from_settings(settings, putio, store)
    sync.sync_all()
    before = files_under(Path(settings.library[0].path))
    emulator.tree.rename(emulator.file_by_path("/Movies"), "Films", emulator.clock.now())
    report = sync.sync_all()
    assert files_under(Path(settings.library[0].path)) == before
    assert not report.ok and report.results[0].failed == ["/Movies"]


def test_a_transfer_does_not_take_a_name_held_by_another_video(
    emulator, putio, settings, store, tmp_path
):
    seed(emulator)
    sync = library_sync_from_settings(settings, putio, store)
    sync.sync_all()
    heat = tmp_path / "lib/Movies/Heat (1995)/Heat (1995).strm"
    original = heat.read_text()
    movies = emulator.file_by_path("/Movies")
    transfer = putio.add_transfer(
        "magnet:?xt=urn:btih:" + "ef" * 20 + "&dn=Heat.1995.REMASTERED.2160p.mkv",
        save_parent_id=movies,
    )
    emulator.clock.advance(600)
    new_id = putio.get_transfer(transfer.id).file_id
    partial = sync.sync_subtree(new_id)
    assert heat.read_text() == original
    assert partial.count("conflicts") >= 1
    sync.sync_all()  # the full sync sees both: the lower id keeps the name, the new one is tagged
    assert heat.read_text() == original
    assert (tmp_path / f"lib/Movies/Heat (1995)/Heat (1995) [putio-{new_id}].strm").exists()


def test_a_new_link_secret_or_a_wiped_folder_is_written_again(
    emulator, putio, settings, store, tmp_path
):
    seed(emulator)
    library_sync_from_settings(settings, putio, store).sync_all()
    (Path(settings.state.dir) / "link-secret").unlink()
    resigned = library_sync_from_settings(settings, putio, store).sync_all()
    assert resigned.count("updated") == 4  # every .strm carries the new signature
    shutil.rmtree(tmp_path / "lib" / "TV")
    again = library_sync_from_settings(settings, putio, store).sync_all()
    assert (tmp_path / "lib/TV/Show Name/Season 01/Show Name - S01E01.strm").exists()
    assert again.count("updated") == 5  # the TV library's .strm, .nfo and tvshow.nfo


def test_serve_command_answers_the_links_a_sync_wrote(emulator, emulator_server, tmp_path):
    import signal
    import socket
    import sys
    import time

    import requests

    seed(emulator)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "putbridge.toml"
    config.write_text(
        f'[putio]\ntoken = "{TEST_TOKEN}"\napi_url = "{emulator_server.api_url}"\n'
        f'[server]\nlisten = "127.0.0.1:{port}"\npublic_url = "http://127.0.0.1:{port}"\n'
        f'[state]\ndir = "{tmp_path / "state"}"\n'
        f'[[library]]\nsource = "/Movies"\npath = "{tmp_path / "lib"}"\nlayout = "movies"\n'
    )
    assert CliRunner().invoke(main, ["--config", str(config), "sync"]).exit_code == 0
    url = (tmp_path / "lib/Sintel (2010)/Sintel (2010).strm").read_text().strip()
    proc = subprocess.Popen(
        [sys.executable, "-m", "putbridge.cli", "--config", str(config), "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "serving stream links" in proc.stdout.readline()
        deadline = time.monotonic() + 10
        while True:
            try:
                answer = requests.get(url, allow_redirects=False, timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert answer.status_code == 302
        assert requests.get(url, timeout=10).content[:4] != b""
        forged = url.replace("/stream/", "/stream/").rsplit("/", 2)
        bad = requests.get(f"{forged[0]}/{'0' * 32}/{forged[2]}", timeout=5)
        assert bad.status_code == 403 and bad.content == b""
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
        proc.stdout.close()
        proc.stderr.close()
    assert code == 0
