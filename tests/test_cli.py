"""The command line: login against the emulator, config printing, one-line errors, demo."""

from __future__ import annotations

import os
import stat
import threading
import time
import tomllib

from click.testing import CliRunner

from putbridge.cli import main


def approve_when_pending(emulator, *, expire=False):
    """Approve (or let expire) the first device code the emulator hands out."""
    done = threading.Event()

    def run():
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not done.is_set():
            codes = emulator.pending_codes()
            if codes:
                if expire:
                    emulator.clock.advance(3600)
                else:
                    emulator.approve_code(codes[0])
                return
            time.sleep(0.01)

    thread = threading.Thread(target=run, name="approver")
    thread.start()
    return thread, done


def login_while_approving(emulator, config, *, expire=False):
    """Run `putbridge login` while another thread approves (or expires) its code."""
    thread, done = approve_when_pending(emulator, expire=expire)
    try:
        return CliRunner().invoke(
            main, ["--config", str(config), "login", "--poll-interval", "0.05"]
        )
    finally:
        done.set()
        thread.join()


def write_config(path, server, extra=""):
    path.write_text(
        "# my putbridge settings\n"
        "[putio]\n"
        f'api_url = "{server.api_url}"\n'
        f'upload_url = "{server.upload_url}"\n'
        "\n[[library]]\n"
        'path = "/media/movies"  # keep me\n' + extra,
        encoding="utf-8",
    )
    os.chmod(path, 0o644)


def test_login_links_the_device_and_saves_the_token(tmp_path, emulator, emulator_server):
    config = tmp_path / "putbridge.toml"
    write_config(config, emulator_server)
    result = login_while_approving(emulator, config)
    assert result.exit_code == 0, result.output
    assert "https://put.io/link" in result.output
    assert "Linked to put.io" in result.output
    text = config.read_text()
    parsed = tomllib.loads(text)
    assert parsed["putio"]["token"]
    assert parsed["putio"]["api_url"] == emulator_server.api_url
    assert parsed["library"] == [{"path": "/media/movies"}]
    assert "# my putbridge settings" in text and "# keep me" in text
    assert stat.S_IMODE(os.stat(config).st_mode) == 0o600
    assert parsed["putio"]["token"] not in result.output


def test_login_with_an_expired_code_fails_in_one_line(tmp_path, emulator, emulator_server):
    config = tmp_path / "putbridge.toml"
    write_config(config, emulator_server)
    before = config.read_text()
    result = login_while_approving(emulator, config, expire=True)
    assert result.exit_code == 1
    assert "expired" in result.output and "putbridge login" in result.output
    assert config.read_text() == before


def test_login_creates_a_missing_config_file(tmp_path, emulator, emulator_server, monkeypatch):
    config = tmp_path / "new" / "putbridge.toml"
    monkeypatch.setenv("PUTBRIDGE_PUTIO__API_URL", emulator_server.api_url)
    result = login_while_approving(emulator, config)
    assert result.exit_code == 0, result.output
    assert tomllib.loads(config.read_text())["putio"]["token"]
    assert stat.S_IMODE(os.stat(config).st_mode) == 0o600


def test_login_when_put_io_is_unreachable_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PUTBRIDGE_PUTIO__API_URL", "http://127.0.0.1:9/v2")
    monkeypatch.setenv("PUTBRIDGE_PUTIO__TIMEOUT", "1")
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "c.toml"), "login"])
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: ") and "oauth2/oob/code" in last
    assert "Traceback" not in result.output


def test_config_prints_effective_settings_with_secrets_redacted(tmp_path, monkeypatch):
    config = tmp_path / "putbridge.toml"
    config.write_text('[putio]\ntoken = "secret-token-abc"\n[server]\napi_key = "k-999999"\n')
    monkeypatch.setenv("PUTBRIDGE_SERVER__LISTEN", "127.0.0.1:7000")
    result = CliRunner().invoke(main, ["--config", str(config), "config"])
    assert result.exit_code == 0, result.output
    assert "secret-token-abc" not in result.output and "k-999999" not in result.output
    body = tomllib.loads(result.output)
    assert body["server"]["listen"] == "127.0.0.1:7000"
    assert body["putio"]["token"] == "[REDACTED]"


def test_bad_config_is_one_line_naming_key_and_file(tmp_path):
    config = tmp_path / "putbridge.toml"
    config.write_text("[putio]\ntimeout = 'soon'\n")
    result = CliRunner().invoke(main, ["--config", str(config), "config"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "putio.timeout" in lines[0] and str(config) in lines[0]


def test_demo_syncs_the_sample_serves_links_and_completes_a_transfer(tmp_path):
    result = CliRunner().invoke(main, ["demo", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Listed" in result.output and "videos" in result.output
    assert "in_library" in result.output and "processed/" in result.output
    library = tmp_path / "library"
    strms = sorted(p.relative_to(library).as_posix() for p in library.rglob("*.strm"))
    assert "Movies/Sintel (2010)/Sintel (2010).strm" in strms
    assert "TV/Elephants Dream/Season 02/Elephants Dream - S02E01.strm" in strms
    assert "Movies/Cosmos Laundromat (2015)/Cosmos Laundromat (2015).strm" in strms  # transfer
    assert not any("sample" in s.lower() for s in strms)
    assert "gets 302" in result.output and "then 206 with 16 bytes" in result.output
    assert "would be asked to rescan 1 folders" in result.output
    assert f"{library}/Movies/Cosmos Laundromat (2015)\n" in result.output
    assert not (tmp_path / "state" / "link-secret").stat().st_mode & 0o077
