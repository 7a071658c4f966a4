"""The daemon end to end, over real HTTP and real folders: a drop or an API call becomes a
put.io transfer, the emulator (real clock) completes it, and the .strm appears in the library."""

from __future__ import annotations

import pytest
import requests

from putbridge.intake.sources import parse_link
from putbridge.service import Service
from tests.conftest import TEST_TOKEN
from tests.daemon_helpers import API_KEY, daemon_settings, drop, live_emulator, wait_for
from tests.factories import infohash, make_torrent


def magnet(n: int, *, size: int = 50_000_000) -> str:
    return f"magnet:?xt=urn:btih:{n:040x}&dn=Film.Number.{n}.{2000 + n % 20}.1080p.mkv&xl={size}"


@pytest.fixture
def live():
    """The emulator on a real clock (see live_emulator)."""
    with live_emulator() as (emu, server):
        yield emu, server


def strm_files(tmp_path):
    return sorted((tmp_path / "library").rglob("*.strm"))


def test_a_drop_reaches_the_library_within_a_poll(tmp_path, live):
    emu, server = live
    settings = daemon_settings(tmp_path, server, poll_active=0.5, poll_idle=0.5)
    with Service(settings) as service:
        drop(tmp_path / "blackhole", "Film.Number.7.2007.1080p.magnet", magnet(7))
        assert wait_for(lambda: strm_files(tmp_path)), "no .strm appeared"
        (record,) = service.ledger.list()
        assert wait_for(lambda: service.ledger.get(record.id).state == "in_library")
        record = service.ledger.get(record.id)
        assert str(strm_files(tmp_path)[0]) in record.library_paths
        assert record.origin == f"blackhole:{tmp_path / 'blackhole'}"
    assert (tmp_path / "blackhole" / "processed" / "Film.Number.7.2007.1080p.magnet").is_file()
    assert not (tmp_path / "blackhole" / "Film.Number.7.2007.1080p.magnet").exists()
    (transfer,) = emu.transfers.values()
    assert emu.path_of(transfer.save_parent_id) == "/Movies"
    link = strm_files(tmp_path)[0].read_text().strip()
    assert link.startswith(settings.server.public_url + "/stream/")
    assert TEST_TOKEN not in link


def test_the_callback_wakes_the_daemon_at_once(tmp_path, live):
    emu, server = live
    # Polls an hour apart: only put.io's callback can bring the transfer in quickly.
    settings = daemon_settings(tmp_path, server, callback=True, poll_active=3600, poll_idle=3600)
    with Service(settings) as service:
        # 500 MB at 500 MB/s: still downloading when the daemon looks right after sending it.
        source = parse_link(magnet(8, size=500_000_000))
        record, _ = service.transfers.add(source, target="/Movies", origin="t")
        assert record.state == "submitted"
        assert wait_for(lambda: service.ledger.get(record.id).state == "in_library", timeout=20)
        (transfer,) = emu.transfers.values()
        assert transfer.callback_url.startswith(settings.server.public_url + "/putio/callback/")
        assert strm_files(tmp_path)


def test_bad_drops_end_in_failed_with_reasons(tmp_path, live):
    emu, server = live
    settings = daemon_settings(tmp_path, server)
    blackhole = tmp_path / "blackhole"
    with Service(settings):
        drop(blackhole, "garbage.torrent", b"\x00\x01 not bencode")
        drop(blackhole, "empty.magnet", b"")
        drop(blackhole, "ftp.txt", "ftp://example.com/file.iso")
        drop(blackhole, "nohash.magnet", "magnet:?dn=nothing")
        names = ["garbage.torrent", "empty.magnet", "ftp.txt", "nohash.magnet"]
        assert wait_for(lambda: all((blackhole / "failed" / n).is_file() for n in names))
    for name in names:
        reason = (blackhole / "failed" / f"{name}.reason").read_text()
        assert len(reason.strip()) > 10
        assert not (blackhole / name).exists()
    assert emu.transfers == {}


def test_the_api_needs_the_key_and_dedupes_with_the_blackhole(tmp_path, live):
    emu, server = live
    settings = daemon_settings(tmp_path, server)
    with Service(settings) as service:
        base = service.base_url
        body = {"url": magnet(9)}
        assert requests.post(f"{base}/api/transfers", json=body, timeout=5).status_code == 401
        wrong = {"X-Api-Key": "nope"}
        assert (
            requests.post(f"{base}/api/transfers", json=body, headers=wrong, timeout=5).status_code
            == 401
        )
        assert requests.get(f"{base}/api/transfers", timeout=5).status_code == 401
        good = {"Authorization": f"Bearer {API_KEY}"}
        answer = requests.post(f"{base}/api/transfers", json=body, headers=good, timeout=5)
        assert answer.status_code == 202, answer.text
        record_id = answer.json()["transfer"]["id"]
        drop(tmp_path / "blackhole", "same.magnet", magnet(9))
        assert wait_for(lambda: (tmp_path / "blackhole" / "processed" / "same.magnet").exists())
        listed = requests.get(f"{base}/api/transfers", headers=good, timeout=5).json()
        assert [t["id"] for t in listed["transfers"]] == [record_id]
        one = requests.get(f"{base}/api/transfers/{record_id}", headers=good, timeout=5)
        assert one.status_code == 200 and one.json()["transfer"]["key"].startswith("btih:")
        health = requests.get(f"{base}/health", timeout=5)
        assert health.status_code == 200 and health.json()["ok"] is True
        assert API_KEY not in health.text
    assert len(emu.transfers) == 1


def test_a_torrent_posted_as_multipart_is_uploaded(tmp_path, live):
    emu, server = live
    settings = daemon_settings(tmp_path, server)
    data = make_torrent(tmp_path / "src", {"Some.Film.2019.1080p.mkv": b"v" * 4000})
    with Service(settings) as service:
        answer = requests.post(
            f"{service.base_url}/api/transfers",
            files={"torrent": ("film.torrent", data, "application/x-bittorrent")},
            headers={"X-Api-Key": API_KEY},
            timeout=5,
        )
        assert answer.status_code == 202, answer.text
        assert wait_for(lambda: any(t.hash == infohash(data) for t in emu.transfers.values()))
        assert wait_for(lambda: strm_files(tmp_path))
    assert len(emu.transfers) == 1


def test_health_reports_putio_down(tmp_path, live):
    emu, server = live
    settings = daemon_settings(tmp_path, server)
    with Service(settings) as service:
        assert wait_for(lambda: service.monitor.polls >= 1)
        emu.set_faults(error_rate=1.0)
        service.monitor.wake()
        assert wait_for(
            lambda: requests.get(f"{service.base_url}/health", timeout=5).status_code == 503
        )
        checks = requests.get(f"{service.base_url}/health", timeout=5).json()["checks"]
        assert checks["putio"]["ok"] is False and checks["database"]["ok"] is True
        emu.set_faults(error_rate=0.0)
        service.monitor.wake()
        assert wait_for(
            lambda: requests.get(f"{service.base_url}/health", timeout=5).status_code == 200,
            timeout=20,
        )


def test_stop_joins_everything_quickly(tmp_path, live):
    import time

    emu, server = live
    settings = daemon_settings(tmp_path, server, poll_active=3600, poll_idle=3600)
    service = Service(settings).start()
    started = time.monotonic()
    service.stop()
    assert time.monotonic() - started < 5
    assert not service.monitor.is_alive() and not any(b.is_alive() for b in service.blackholes)
