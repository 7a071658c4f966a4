"""Configuration: one declared tree of dataclasses, layered defaults -> TOML file -> environment.

Every key is declared once here with its type and default. A key the tree does not declare, a
value of the wrong type or an unreadable file is a ConfigError naming the key and where it came
from (the file path or the environment variable).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from putbridge.errors import ConfigError
from putbridge.logs import REDACTED, register_secret
from putbridge.putio import DEFAULT_API_URL, DEFAULT_UPLOAD_URL

CONFIG_FILENAME = "putbridge.toml"
ENV_PREFIX = "PUTBRIDGE_"
# Keys whose values are secrets: registered for log redaction as soon as they are read, kept out
# of reprs and error messages, shown redacted by `putbridge config`.
SECRET_KEYS = frozenset({"token", "api_key", "password"})
_POSITIVE = {"positive": True}
_NOT_NEGATIVE = {"not_negative": True}


def _user_dir(env: str, fallback: str) -> Path:
    base = os.environ.get(env)
    return Path(base) if base else Path.home() / fallback


def default_config_path() -> Path:
    return _user_dir("XDG_CONFIG_HOME", ".config") / "putbridge" / CONFIG_FILENAME


def default_state_dir() -> str:
    return str(_user_dir("XDG_STATE_HOME", ".local/state") / "putbridge")


@dataclass
class PutioSettings:
    token: str = field(default="", repr=False)
    api_url: str = DEFAULT_API_URL
    upload_url: str = DEFAULT_UPLOAD_URL
    timeout: float = field(default=30.0, metadata=_POSITIVE)
    # The OAuth app putbridge logs in as (put.io's device-link flow needs a registered app id).
    app_id: str = "0"


@dataclass
class ServerSettings:
    listen: str = "127.0.0.1:9091"
    public_url: str = "http://127.0.0.1:9091"
    api_key: str = field(default="", repr=False)
    # Whether put.io can reach public_url: only then is a callback_url sent with new transfers
    # (put.io cannot POST to 127.0.0.1 or a home LAN address).
    callback: bool = False
    threads: int = field(default=8, metadata=_POSITIVE)


@dataclass
class StateSettings:
    dir: str = field(default_factory=default_state_dir)


@dataclass
class LogSettings:
    level: str = "INFO"


# Folder names (compared case-insensitively) whose videos are extras or samples, not features.
DEFAULT_SKIP_FOLDERS = [
    "sample",
    "samples",
    "extras",
    "featurettes",
    "trailers",
    "behind the scenes",
    "deleted scenes",
    "interviews",
    "scenes",
    "shorts",
    "other",
]


@dataclass
class LibrarySettings:
    path: str
    source: str = "/"
    layout: str = "mirror"
    mode: str = "strm"
    links: str = "bridge"
    # Write .nfo sidecars (for movies and shows layouts; mirror has nothing to say in them).
    nfo: bool = True
    # Subtitle languages to fetch from put.io beside each video, e.g. ["en", "fr"]; [] = none.
    subtitles: list[str] = field(default_factory=list)
    skip_folders: list[str] = field(default_factory=lambda: list(DEFAULT_SKIP_FOLDERS))


@dataclass
class BlackholeSettings:
    path: str
    target: str = "/"
    # Subfolder name -> put.io target for categories, e.g. { tv = "/TV" }.
    categories: dict[str, str] = field(default_factory=dict)
    # Poll the folder instead of relying on inotify (NAS and network mounts send no events).
    polling: bool = False
    poll_interval: float = field(default=5.0, metadata=_POSITIVE)
    # What becomes of a submitted drop: moved to processed/, or deleted.
    after: str = "move"
    # A drop is taken once its size and mtime have not changed for this long.
    stable_seconds: float = field(default=1.0, metadata=_POSITIVE)


@dataclass
class TransferSettings:
    # put.io folder for transfers added through the web API or `putbridge add` with no target.
    target: str = "/"
    # Follow every transfer on the account ("all") or only those putbridge started ("ours").
    follow: str = "all"
    # Seconds between transfers/list polls while something is active, and when idle.
    poll_active: float = field(default=5.0, metadata=_POSITIVE)
    poll_idle: float = field(default=60.0, metadata=_POSITIVE)
    # Ask put.io to retry a failed transfer this many times (0: never).
    retries: int = field(default=0, metadata=_NOT_NEGATIVE)
    # Remove finished transfers from put.io's list once they are in the library (files stay).
    clean: bool = False
    # Full library sync every this many minutes while `putbridge run` runs (one at start).
    sync_interval: float = field(default=360.0, metadata=_POSITIVE)
    # Media servers get the folders that changed this many seconds after the first change, in
    # one batch (a burst of completions is one rescan per folder, not one per file).
    scan_debounce: float = field(default=5.0, metadata=_POSITIVE)


@dataclass
class MediaServerSettings:
    kind: str
    url: str
    token: str = field(default="", repr=False)
    # Kodi's web server login (HTTP Basic).
    username: str = ""
    password: str = field(default="", repr=False)
    # A label for logs and `putbridge test-scan --server` (default: the kind).
    name: str = ""
    # Bridge path prefix -> the same folder as this server sees it (longest prefix wins).
    path_map: dict[str, str] = field(default_factory=dict)
    # Only these sections/libraries (by title); [] = all of them.
    libraries: list[str] = field(default_factory=list)
    # Jellyfin/Emby: "partial" tells the server which folders changed; "full" refreshes it all.
    mode: str = "partial"
    timeout: float = field(default=10.0, metadata=_POSITIVE)
    # Kodi: VideoLibrary.Clean after files were removed.
    clean: bool = False


@dataclass
class Settings:
    putio: PutioSettings = field(default_factory=PutioSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    state: StateSettings = field(default_factory=StateSettings)
    log: LogSettings = field(default_factory=LogSettings)
    library: list[LibrarySettings] = field(default_factory=list)
    blackhole: list[BlackholeSettings] = field(default_factory=list)
    transfers: TransferSettings = field(default_factory=TransferSettings)
    mediaserver: list[MediaServerSettings] = field(default_factory=list)
    # Where the settings were read from (None: no file, defaults and environment only).
    loaded_from: Path | None = field(default=None, compare=False, metadata={"internal": True})


# Allowed values of enum-like keys: (section, key) -> choices.
CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("library", "layout"): ("mirror", "movies", "shows"),
    ("library", "mode"): ("strm", "download"),
    ("library", "links"): ("bridge", "proxy", "direct", "hls"),
    ("mediaserver", "kind"): ("plex", "jellyfin", "emby", "kodi"),
    ("blackhole", "after"): ("move", "delete"),
    ("mediaserver", "mode"): ("partial", "full"),
    ("transfers", "follow"): ("all", "ours"),
    ("log", "level"): ("DEBUG", "INFO", "WARNING", "ERROR"),
}


def find_config_file(explicit: str | os.PathLike | None = None) -> tuple[Path, bool]:
    """The config file to use and whether the user named it (then it must exist to be read).

    Order: the explicit path, $PUTBRIDGE_CONFIG, ./putbridge.toml, the user config dir.
    """
    if explicit:
        return Path(explicit), True
    from_env = os.environ.get("PUTBRIDGE_CONFIG")
    if from_env:
        return Path(from_env), True
    local = Path.cwd() / CONFIG_FILENAME
    if local.exists():
        return local, False
    return default_config_path(), False


def load_settings(
    path: str | os.PathLike | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    must_exist: bool = True,
) -> Settings:
    """Read the settings: defaults, then the TOML file (if any), then PUTBRIDGE_* variables.

    ``must_exist``: when the user named a file that is missing, fail (False lets `login` create it).
    """
    environ = os.environ if environ is None else environ
    config_path, named = find_config_file(path)
    raw: dict[str, Any] = {}
    source: Path | None = None
    if config_path.exists():
        raw = _read_toml(config_path)
        source = config_path
    elif named and must_exist:
        raise ConfigError(f"config file {config_path} does not exist")
    where = str(config_path)
    settings = _build(Settings, raw, where, path_prefix="")
    _apply_env(settings, environ)
    _check_put_io_folders(settings, where)
    settings.loaded_from = source
    for secret in secrets(settings):
        register_secret(secret)
    return settings


def _check_put_io_folders(settings: Settings, where: str) -> None:
    """Every put.io folder a transfer may be sent to is a plain absolute path."""
    from putbridge.errors import IntakeError
    from putbridge.intake.submit import check_target

    targets = [("transfers.target", settings.transfers.target)]
    for i, blackhole in enumerate(settings.blackhole):
        targets.append((f"blackhole[{i}].target", blackhole.target))
        targets += [
            (f"blackhole[{i}].categories.{name}", target)
            for name, target in blackhole.categories.items()
        ]
    for key, target in targets:
        try:
            check_target(target)
        except IntakeError as err:
            raise ConfigError(f"{where}: '{key}': {err}") from err


def secrets(settings: Settings) -> list[str]:
    """Every secret value in the settings (tokens, API keys), for redaction."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                walk(item)
        elif dataclasses.is_dataclass(value):
            for name in _fields(type(value)):
                item = getattr(value, name)
                if name in SECRET_KEYS and isinstance(item, str) and item:
                    found.append(item)
                else:
                    walk(item)

    walk(settings)
    return found


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from err
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror}") from err


def _fields(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _build(cls: type, raw: Any, where: str, path_prefix: str) -> Any:
    """Make a dataclass of ``cls`` from a TOML table, naming the first bad key."""
    label = path_prefix.rstrip(".") or "top level"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: '{label}' must be a table, not {_type_name(raw)}")
    known = _fields(cls)
    hints = _hints(cls)
    for key in raw:
        if key not in known:
            hint = f" (known keys: {', '.join(sorted(known))})"
            raise ConfigError(f"{where}: unknown key '{path_prefix}{key}'{hint}")
    values: dict[str, Any] = {}
    section = path_prefix.split(".")[0].split("[")[0]
    for name, f in known.items():
        key_path = f"{path_prefix}{name}"
        if name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{where}: missing required key '{key_path}'")
            continue
        values[name] = _convert(
            hints[name], raw[name], where, key_path, (section, name), f.metadata
        )
    return cls(**values)


def _convert(
    hint: Any,
    value: Any,
    where: str,
    key_path: str,
    choice_key: tuple[str, str],
    metadata: Mapping[str, Any] | None = None,
) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where, f"{key_path}.")
    if origin is list and typing.get_args(hint) == (str,):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: '{key_path}' must be a list of strings")
        return list(value)
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: '{key_path}' must be a list of tables ([[{key_path}]])")
        return [_build(item, v, where, f"{key_path}[{i}].") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ConfigError(f"{where}: '{key_path}' must be a table of strings to strings")
        return dict(value)
    ok = {
        str: isinstance(value, str),
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, int | float) and not isinstance(value, bool),
    }.get(hint)
    if not ok:
        # A secret's value stays out of the message, even a mistyped one.
        shown = "" if choice_key[1] in SECRET_KEYS else f" ({_preview(value)})"
        raise ConfigError(
            f"{where}: '{key_path}' must be {_hint_name(hint)}, not {_type_name(value)}{shown}"
        )
    if hint is float:
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"{where}: '{key_path}' must be a finite number, not {value}")
    if metadata and metadata.get("positive") and value <= 0:
        raise ConfigError(f"{where}: '{key_path}' must be more than 0, not {value}")
    if metadata and metadata.get("not_negative") and value < 0:
        raise ConfigError(f"{where}: '{key_path}' must be 0 or more, not {value}")
    choices = CHOICES.get(choice_key)
    if choices and value not in choices:
        raise ConfigError(
            f"{where}: '{key_path}' must be one of {', '.join(choices)}, not {_preview(value)}"
        )
    return value


_ENV_KEY = re.compile(r"^PUTBRIDGE_([A-Z0-9_]+?)__([A-Z0-9_]+)$")


def _apply_env(settings: Settings, environ: Mapping[str, str]) -> None:
    """PUTBRIDGE_<SECTION>__<KEY>=value over the file, for the single-table sections."""
    tables = {
        name: f
        for name, f in _fields(Settings).items()
        if dataclasses.is_dataclass(_hints(Settings)[name])
    }
    for var in sorted(environ):
        if not var.startswith(ENV_PREFIX) or "__" not in var:
            continue
        match = _ENV_KEY.match(var)
        if not match:
            raise ConfigError(f"environment variable {var}: expected PUTBRIDGE_<SECTION>__<KEY>")
        section, key = match.group(1).lower(), match.group(2).lower()
        if section not in tables:
            known = ", ".join(sorted(tables))
            raise ConfigError(
                f"environment variable {var}: unknown section '{section}' (sections set by "
                f"environment: {known}; lists like [[library]] only in the file)"
            )
        table = getattr(settings, section)
        hints = _hints(type(table))
        if key not in hints:
            known = ", ".join(sorted(_fields(type(table))))
            raise ConfigError(
                f"environment variable {var}: unknown key '{section}.{key}' (known keys: {known})"
            )
        value = _parse_env_value(hints[key], environ[var], var)
        converted = _convert(
            hints[key],
            value,
            f"environment variable {var}",
            f"{section}.{key}",
            (section, key),
            _fields(type(table))[key].metadata,
        )
        setattr(table, key, converted)


def _parse_env_value(hint: Any, text: str, var: str) -> Any:
    if hint is str:
        return text
    if hint is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"environment variable {var}: expected true or false, not {text!r}")
    try:
        return hint(text.strip()) if hint in (int, float) else text
    except ValueError as err:
        raise ConfigError(
            f"environment variable {var}: expected {_hint_name(hint)}, not {text!r}"
        ) from err


def _hint_name(hint: Any) -> str:
    names = {str: "a string", bool: "true or false", int: "an integer", float: "a number"}
    return names.get(hint, str(hint))


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    names = {
        str: "a string",
        int: "an integer",
        float: "a number",
        list: "a list",
        dict: "a table",
    }
    return names.get(type(value), type(value).__name__)


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def redacted(settings: Settings) -> dict[str, Any]:
    """The settings as plain data with every secret value replaced."""

    def walk(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return {
                name: (
                    REDACTED
                    if name in SECRET_KEYS and getattr(value, name)
                    else walk(getattr(value, name))
                )
                for name in _fields(type(value))
            }
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return dict(value)
        return value

    return walk(settings)
