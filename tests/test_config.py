"""Config: defaults -> TOML -> PUTBRIDGE_* environment, with errors that name the key and file."""

from __future__ import annotations

import os
import stat
import tomllib

import pytest

from putbridge import config, tomlfile
from putbridge.errors import ConfigError


def write(tmp_path, text, name="putbridge.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


FULL = """
[putio]
token = "abc123token"
api_url = "http://127.0.0.1:1/v2"
timeout = 5

[server]
listen = "127.0.0.1:9999"
api_key = "key-123456"

[[library]]
source = "/Movies"
path = "/media/movies"
layout = "movies"

[[library]]
source = "/TV"
path = "/media/tv"
layout = "shows"
links = "hls"

[[blackhole]]
path = "/blackhole/radarr"
target = "/Movies"

[[mediaserver]]
kind = "jellyfin"
url = "http://jellyfin:8096"
token = "jf-token-xyz"
path_map = { "/media" = "/data/media" }
"""


def test_full_file_is_read_into_typed_settings(tmp_path):
    path = write(tmp_path, FULL)
    settings = config.load_settings(path, environ={})
    assert settings.loaded_from == path
    assert settings.putio.token == "abc123token"
    assert settings.putio.timeout == 5.0 and isinstance(settings.putio.timeout, float)
    assert settings.putio.upload_url == "https://upload.put.io/v2"  # default kept
    assert settings.server.listen == "127.0.0.1:9999"
    assert [lib.layout for lib in settings.library] == ["movies", "shows"]
    assert settings.library[0].links == "bridge"  # default
    assert settings.library[1].links == "hls"
    assert settings.blackhole[0].target == "/Movies"
    assert settings.mediaserver[0].path_map == {"/media": "/data/media"}


def test_defaults_are_safe(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    settings = config.load_settings(environ={})
    assert settings.loaded_from is None
    assert settings.server.listen.startswith("127.0.0.1:")
    assert settings.putio.api_url == "https://api.put.io/v2"
    assert settings.library == []


def test_environment_overrides_file_and_converts_types(tmp_path):
    path = write(tmp_path, FULL)
    env = {
        "PUTBRIDGE_PUTIO__TOKEN": "from-env-token",
        "PUTBRIDGE_PUTIO__TIMEOUT": "2.5",
        "PUTBRIDGE_SERVER__PUBLIC_URL": "http://bridge:9091",
        "PUTBRIDGE_CONFIG": "ignored-here-because-explicit",
        "UNRELATED": "x",
    }
    settings = config.load_settings(path, environ=env)
    assert settings.putio.token == "from-env-token"
    assert settings.putio.timeout == 2.5
    assert settings.server.public_url == "http://bridge:9091"


def test_config_file_found_through_env_and_cwd(tmp_path, monkeypatch):
    other = write(tmp_path, '[putio]\ntoken = "envfile-token"\n', name="other.toml")
    monkeypatch.setenv("PUTBRIDGE_CONFIG", str(other))
    assert config.load_settings().putio.token == "envfile-token"
    monkeypatch.delenv("PUTBRIDGE_CONFIG")
    write(tmp_path, '[putio]\ntoken = "cwd-token-1"\n')
    monkeypatch.chdir(tmp_path)
    assert config.load_settings().putio.token == "cwd-token-1"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[putio]\ntokn = 'x'\n", "unknown key 'putio.tokn'"),
        ("[putoi]\ntoken = 'x'\n", "unknown key 'putoi'"),
        ("[putio]\ntimeout = 'fast'\n", "'putio.timeout' must be a number"),
        ("[putio]\ntimeout = true\n", "'putio.timeout' must be a number"),
        ("[putio]\ntoken = 12345678\n", "'putio.token' must be a string"),
        ("putio = 3\n", "'putio' must be a table"),
        ("[[library]]\nsource = '/'\n", "missing required key 'library[0].path'"),
        ("[[library]]\npath = '/x'\nlayout = 'flat'\n", "'library[0].layout' must be one of"),
        ("[[library]]\npath = '/x'\nlinks = 'magic'\n", "'library[0].links' must be one of"),
        ("[library]\npath = '/x'\n", "'library' must be a list of tables"),
        ("[[mediaserver]]\nkind = 'plex'\nurl = 'u'\npath_map = { a = 1 }\n", "path_map"),
        ("[[mediaserver]]\nkind = 'winamp'\nurl = 'u'\n", "'mediaserver[0].kind'"),
        ("[[blackhole]]\npath = '/b'\nextra = 1\n", "unknown key 'blackhole[0].extra'"),
        ("[log]\nlevel = 'LOUD'\n", "'log.level' must be one of"),
        ("[putio\ntoken = 'x'\n", "not valid TOML"),
        ('token = "unterminated\n', "not valid TOML"),
        ("\x00\x01binary", "not valid TOML"),
    ],
)
def test_bad_files_name_the_key_and_file(tmp_path, text, needle):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        config.load_settings(path, environ={})
    message = str(info.value)
    assert needle in message
    assert str(path) in message


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"PUTBRIDGE_PUTIO__TIMEOUT": "soon"}, "PUTBRIDGE_PUTIO__TIMEOUT: expected a number"),
        ({"PUTBRIDGE_PUTIO__NOPE": "1"}, "unknown key 'putio.nope'"),
        ({"PUTBRIDGE_NOPE__TOKEN": "1"}, "unknown section 'nope'"),
        ({"PUTBRIDGE_LIBRARY__PATH": "/x"}, "unknown section 'library'"),
        ({"PUTBRIDGE_LOG__LEVEL": "chatty"}, "PUTBRIDGE_LOG__LEVEL"),
        ({"PUTBRIDGE___": "x"}, "PUTBRIDGE___"),
    ],
)
def test_bad_environment_names_the_variable(tmp_path, env, needle):
    path = write(tmp_path, "")
    with pytest.raises(ConfigError, match="environment variable") as info:
        config.load_settings(path, environ=env)
    assert needle in str(info.value)


def test_missing_named_file_is_an_error_unless_allowed(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=f"{missing} does not exist"):
        config.load_settings(missing, environ={})
    settings = config.load_settings(missing, environ={}, must_exist=False)
    assert settings.loaded_from is None


def test_unreadable_file_is_a_clear_error(tmp_path):
    path = tmp_path / "dir.toml"
    path.mkdir()
    with pytest.raises(ConfigError, match="cannot read"):
        config.load_settings(path, environ={})


def test_redacted_hides_every_secret(tmp_path):
    settings = config.load_settings(write(tmp_path, FULL), environ={})
    text = tomlfile.dumps(config.redacted(settings))
    for secret in ("abc123token", "key-123456", "jf-token-xyz"):
        assert secret not in text
    assert text.count(config.REDACTED) == 3
    parsed = tomllib.loads(text)  # the printout is itself valid TOML
    assert parsed["library"][1]["links"] == "hls"
    assert parsed["mediaserver"][0]["path_map"] == {"/media": "/data/media"}


class TestSetKey:
    def test_creates_a_private_file(self, tmp_path):
        path = tmp_path / "sub" / "putbridge.toml"
        tomlfile.set_key(path, "putio", "token", "tok-1")
        assert tomllib.loads(path.read_text())["putio"]["token"] == "tok-1"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    def test_replaces_in_place_keeping_comments_and_other_tables(self, tmp_path):
        original = (
            '# my settings\n[putio]\n# the token\ntoken = "old"  # comment\n'
            'api_url = "http://x/v2"\n\n[[library]]\npath = "/m"\n'
        )
        path = write(tmp_path, original)
        os.chmod(path, 0o644)
        tomlfile.set_key(path, "putio", "token", "new-token")
        text = path.read_text()
        assert "# my settings" in text and "# the token" in text
        parsed = tomllib.loads(text)
        assert parsed["putio"] == {"token": "new-token", "api_url": "http://x/v2"}
        assert parsed["library"] == [{"path": "/m"}]
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    def test_adds_key_to_existing_table_or_new_table(self, tmp_path):
        path = write(tmp_path, '[server]\nlisten = "127.0.0.1:1"\n[putio]\napi_url = "a"\n')
        tomlfile.set_key(path, "putio", "token", "t-2")
        assert tomllib.loads(path.read_text())["putio"] == {"token": "t-2", "api_url": "a"}
        path2 = write(tmp_path, '[[library]]\npath = "/m"\n', name="two.toml")
        tomlfile.set_key(path2, "putio", "token", "t-3")
        parsed = tomllib.loads(path2.read_text())
        assert parsed["putio"]["token"] == "t-3" and parsed["library"] == [{"path": "/m"}]

    def test_escapes_hostile_values(self, tmp_path):
        path = tmp_path / "c.toml"
        hostile = 'a"b\\c\n[evil]\nx = 1'
        tomlfile.set_key(path, "putio", "token", hostile)
        parsed = tomllib.loads(path.read_text())
        assert parsed["putio"]["token"] == hostile
        assert "evil" not in parsed

    def test_refuses_to_touch_an_invalid_file(self, tmp_path):
        path = write(tmp_path, "[putio\ntoken = 1\n")
        before = path.read_text()
        with pytest.raises(ConfigError, match="not valid TOML"):
            tomlfile.set_key(path, "putio", "token", "t")
        assert path.read_text() == before

    def test_dotted_layout_it_cannot_edit_is_reported_not_broken(self, tmp_path):
        path = write(tmp_path, 'putio.token = "old"\n')
        before = path.read_text()
        with pytest.raises(ConfigError):
            tomlfile.set_key(path, "putio", "token", "new")
        assert path.read_text() == before
        assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize(
    ("text", "env", "needle"),
    [
        ("[putio]\ntimeout = 0\n", {}, "'putio.timeout' must be more than 0"),
        ("[putio]\ntimeout = -3\n", {}, "'putio.timeout' must be more than 0"),
        ("[putio]\ntimeout = nan\n", {}, "'putio.timeout' must be a finite number"),
        ("[putio]\ntimeout = inf\n", {}, "'putio.timeout' must be a finite number"),
        ("", {"PUTBRIDGE_PUTIO__TIMEOUT": "0"}, "'putio.timeout' must be more than 0"),
    ],
)
def test_out_of_range_numbers_are_refused(tmp_path, text, env, needle):
    with pytest.raises(ConfigError, match=needle):
        config.load_settings(write(tmp_path, text), environ=env)


def test_secrets_are_registered_for_redaction_and_kept_out_of_reprs(tmp_path, caplog):
    import logging

    settings = config.load_settings(write(tmp_path, FULL), environ={})
    assert sorted(config.secrets(settings)) == ["abc123token", "jf-token-xyz", "key-123456"]
    assert "abc123token" not in repr(settings)
    assert "jf-token-xyz" not in repr(settings) and "key-123456" not in repr(settings)
    with caplog.at_level(logging.INFO):
        logging.getLogger("anything").info("api key %s, token %s", "key-123456", "jf-token-xyz")
    assert "key-123456" not in caplog.text and "jf-token-xyz" not in caplog.text


def test_a_mistyped_secret_is_not_echoed_in_the_error(tmp_path):
    path = write(tmp_path, "[putio]\ntoken = 98765432123\n")
    with pytest.raises(ConfigError) as info:
        config.load_settings(path, environ={})
    assert "'putio.token' must be a string" in str(info.value)
    assert "98765432123" not in str(info.value)


def test_library_options_have_defaults_and_are_checked(tmp_path):
    path = write(tmp_path, '[[library]]\npath = "/m"\nsubtitles = ["en", "fr"]\nnfo = false\n')
    (lib,) = config.load_settings(path, environ={}).library
    assert lib.subtitles == ["en", "fr"] and lib.nfo is False
    assert "sample" in lib.skip_folders
    bad = write(tmp_path, '[[library]]\npath = "/m"\nsubtitles = "en"\n', name="bad.toml")
    with pytest.raises(ConfigError, match="'library\\[0\\].subtitles' must be a list of strings"):
        config.load_settings(bad, environ={})


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ("[transfers]\nretries = -1\n", "transfers.retries"),
        ("[transfers]\npoll_active = 0\n", "transfers.poll_active"),
        ("[transfers]\nfollow = 'some'\n", "transfers.follow"),
        ("[transfers]\ntarget = 'Movies'\n", "transfers.target"),
        ("[[blackhole]]\npath = '/b'\ntarget = '/a/../b'\n", "blackhole[0].target"),
        ("[[blackhole]]\npath = '/b'\ncategories = { tv = 'TV' }\n", "blackhole[0].categories.tv"),
        ("[[blackhole]]\npath = '/b'\nafter = 'shred'\n", "blackhole[0].after"),
        ("[[blackhole]]\npath = '/b'\nstable_seconds = -2\n", "blackhole[0].stable_seconds"),
        ("[server]\ncallback = 'yes'\n", "server.callback"),
    ],
)
def test_intake_settings_with_bad_values_name_the_key(tmp_path, toml, named):
    path = tmp_path / "putbridge.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as err:
        config.load_settings(path, environ={})
    assert named in str(err.value) and str(path) in str(err.value)
