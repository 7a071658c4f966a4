"""`putbridge add` and `putbridge status`: the same ledger and TransferService as the daemon."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from putbridge.cli import main
from putbridge.intake import submit
from putbridge.service import Service
from tests.daemon_helpers import daemon_settings, wait_for, write_config
from tests.factories import infohash, make_torrent

HASH = "0123456789abcdef0123456789abcdef01234567"
MAGNET = f"magnet:?xt=urn:btih:{HASH}&dn=Some.Movie.2020.1080p"


@pytest.fixture
def config(tmp_path, emulator_server, emulator):
    emulator.add_folder("Movies")
    settings = daemon_settings(tmp_path, emulator_server)
    return write_config(settings, tmp_path / "putbridge.toml"), settings


def run(config, *args):
    return CliRunner().invoke(main, ["--config", str(config), *args])


def test_add_sends_links_and_files_and_dedupes(config, tmp_path, emulator):
    path, _settings = config
    data = make_torrent(tmp_path / "src", {"Film.2019.mkv": b"z" * 3000})
    torrent = tmp_path / "film.torrent"
    torrent.write_bytes(data)
    magnet_file = tmp_path / "x.magnet"
    magnet_file.write_text(f"magnet:?xt=urn:btih:{'b' * 40}")
    result = run(path, "add", MAGNET, str(torrent), str(magnet_file))
    assert result.exit_code == 0, result.output
    assert result.output.count("added: transfer") == 3
    hashes = {t.hash for t in emulator.transfers.values()}
    assert hashes == {HASH, infohash(data), "b" * 40}
    assert all(emulator.path_of(t.save_parent_id) == "/Movies" for t in emulator.transfers.values())
    again = run(path, "add", MAGNET.upper().replace("MAGNET:?XT=URN:BTIH:", "magnet:?xt=urn:btih:"))
    assert again.exit_code == 0 and "already known" in again.output
    assert len(emulator.transfers) == 3


def test_add_reports_each_bad_source_and_fails(config, emulator):
    path, _settings = config
    result = run(path, "add", "not-a-link", "magnet:?xt=urn:btih:123", MAGNET, "--target", "/TV")
    assert result.exit_code == 1
    assert "not-a-link" in result.output and "2 of 3 not added" in result.output
    (transfer,) = emulator.transfers.values()
    assert emulator.path_of(transfer.save_parent_id) == "/TV"


def test_add_refuses_a_bad_target(config, emulator):
    path, _settings = config
    result = run(path, "add", MAGNET, "--target", "../etc")
    assert result.exit_code == 1 and "absolute path" in result.output
    assert emulator.transfers == {}


def test_status_without_a_daemon_lists_the_ledger(config):
    path, _settings = config
    run(path, "add", MAGNET)
    result = run(path, "status")
    assert result.exit_code == 0, result.output
    assert "daemon: not running" in result.output
    assert "1 submitted" in result.output and "Some.Movie.2020.1080p" in result.output


def test_status_json_sees_the_running_daemon(config):
    path, settings = config
    with Service(settings):
        result = run(path, "status", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["daemon"]["ok"] is True and "database" in shown["daemon"]["checks"]
    assert shown["transfers"] == [] and shown["counts"] == {}


def test_run_without_a_token_is_one_clear_line(tmp_path):
    config = tmp_path / "putbridge.toml"
    config.write_text(f'[state]\ndir = "{tmp_path / "state"}"\n')
    result = run(config, "run")
    assert result.exit_code == 1 and "putbridge login" in result.output


def test_add_wakes_a_running_daemon_and_it_follows_the_transfer(config, emulator):
    path, settings = config
    settings.transfers.poll_active = settings.transfers.poll_idle = 3600
    with Service(settings) as service:
        assert wait_for(lambda: service.monitor.polls >= 1)
        polls = service.monitor.polls
        result = run(path, "add", MAGNET)
        assert result.exit_code == 0, result.output
        assert wait_for(lambda: service.monitor.polls > polls)


def test_a_row_left_waiting_by_add_is_sent_by_the_running_daemon(config, emulator, monkeypatch):
    path, settings = config
    settings.transfers.poll_active = settings.transfers.poll_idle = 3600
    monkeypatch.setattr(submit.TransferService.sweep, "__defaults__", (0.0,))
    with Service(settings) as service:
        emulator.set_faults(error_rate=1.0)
        assert run(path, "add", MAGNET).exit_code == 1  # put.io down: the row waits
        emulator.set_faults(error_rate=0.0)
        assert emulator.transfers == {}
        service.monitor.wake()  # the next poll sweeps it up
        assert wait_for(lambda: len(emulator.transfers) == 1)
