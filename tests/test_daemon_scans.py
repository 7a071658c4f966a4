"""The daemon tells a media server about a completed transfer: the fake Jellyfin receives the
movie's folder as it sees it (path map), once, after the debounce; the transfer ends scanned.
`putbridge test-scan` shows the mapping and triggers a scan."""

from __future__ import annotations

from click.testing import CliRunner

from putbridge.cli import main
from putbridge.config import MediaServerSettings
from putbridge.intake.sources import parse_link
from putbridge.service import Service
from tests.daemon_helpers import daemon_settings, live_emulator, wait_for, write_config
from tests.fake_jellyfin import FakeJellyfin, virtual_folder


def magnet(n: int) -> str:
    return f"magnet:?xt=urn:btih:{n:040x}&dn=Film.Number.{n}.20{n:02d}.1080p.mkv&xl=10000000"


def test_a_completed_transfer_is_rescanned_once_on_the_server_and_marked_scanned(tmp_path):
    library = tmp_path / "library"
    with (
        live_emulator() as (emu, server),
        FakeJellyfin(libraries=[virtual_folder("Movies", "/data/media/library")]) as jellyfin,
    ):
        settings = daemon_settings(tmp_path, server, callback=True)
        settings.transfers.scan_debounce = 0.3
        settings.mediaserver = [
            MediaServerSettings(
                kind="jellyfin",
                url=jellyfin.url,
                token=jellyfin.token,
                path_map={str(library): "/data/media/library"},
            )
        ]
        with Service(settings) as service:
            ids = [
                service.transfers.add(parse_link(magnet(n)), target="/Movies", origin="t")[0].id
                for n in (1, 2)
            ]
            assert wait_for(
                lambda: all(service.ledger.get(i).state == "scanned" for i in ids), timeout=20
            ), [service.ledger.get(i) for i in ids]
        folders = [path for update in jellyfin.updates for path in update.paths]
        assert sorted(set(folders)) == [
            "/data/media/library/Film Number 1 (2001)",
            "/data/media/library/Film Number 2 (2002)",
        ]
        assert len(folders) == len(set(folders))  # each folder once, not once per file
        # test-scan: how a path maps, which library holds it, and a scan.
        config = write_config(settings, tmp_path / "putbridge.toml")
        text = config.read_text() + (
            f'\n[[mediaserver]]\nkind = "jellyfin"\nurl = "{jellyfin.url}"\n'
            f'token = "{jellyfin.token}"\npath_map = {{ "{library}" = "/data/media/library" }}\n'
        )
        config.write_text(text)
        strm = next(library.rglob("*.strm"))
        result = CliRunner().invoke(main, ["--config", str(config), "test-scan", str(strm)])
        assert result.exit_code == 0, result.output
        assert f"as it sees it:    /data/media/library/{strm.parent.name}" in result.output
        assert "Movies" in result.output
        assert jellyfin.updates[-1].paths == [f"/data/media/library/{strm.parent.name}"]


def test_test_scan_reports_a_server_that_is_down(tmp_path):
    with live_emulator() as (_emu, server), FakeJellyfin() as jellyfin:
        settings = daemon_settings(tmp_path, server)
        config = write_config(settings, tmp_path / "putbridge.toml")
        config.write_text(
            config.read_text()
            + f'\n[[mediaserver]]\nkind = "jellyfin"\nurl = "{jellyfin.url}"\ntoken = "wrong"\n'
        )
        result = CliRunner().invoke(main, ["--config", str(config), "test-scan", str(tmp_path)])
    assert result.exit_code == 1
    assert "NOT OK" in result.output and "wrong" not in result.output
