"""The sample library and the JSON seed-file loader (format in docs/putio-emulator.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from putbridge.errors import ConfigError

from .errors import ApiError
from .files import ROOT_ID
from .settings import check_settings

if TYPE_CHECKING:
    from .emulator import Emulator

GB = 1024**3
MB = 1024**2

SAMPLE_LIBRARY: list[tuple[str, int | None]] = [
    ("/Movies/Big Buck Bunny (2008)/Big.Buck.Bunny.2008.1080p.BluRay.x264.mkv", int(1.4 * GB)),
    ("/Movies/Big Buck Bunny (2008)/Big.Buck.Bunny.2008.1080p.BluRay.x264.en.srt", None),
    ("/Movies/Big Buck Bunny (2008)/Big.Buck.Bunny.2008.1080p.BluRay.x264.nfo", 2048),
    ("/Movies/Big Buck Bunny (2008)/Sample/big.buck.bunny.sample.mkv", 24 * MB),
    ("/Movies/Sintel (2010)/Sintel.2010.720p.WEB-DL.mp4", 850 * MB),
    ("/Movies/Sintel (2010)/RARBG.txt", 64),
    ("/Movies/Tears of Steel (2012)/Tears.of.Steel.2012.2160p.mkv", int(3.2 * GB)),
    ("/TV/Elephants Dream/Season 01/Elephants.Dream.S01E01.Emergence.720p.mkv", 350 * MB),
    ("/TV/Elephants Dream/Season 01/Elephants.Dream.S01E02.The.Machine.720p.mkv", 352 * MB),
    ("/TV/Elephants Dream/Season 01/Elephants.Dream.S01E03.Proog.720p.mkv", 349 * MB),
    ("/TV/Elephants Dream/Season 02/Elephants.Dream.S02E01.Return.720p.mkv", 361 * MB),
    ("/TV/Elephants Dream/Season 02/Elephants.Dream.S02E02.Emo.720p.mkv", 355 * MB),
    ("/Documents/putbridge-manual.pdf", 180_000),
    ("/Music/Sintel Soundtrack/01 - Snow Fight.mp3", 6 * MB),
    ("/Music/Sintel Soundtrack/cover.jpg", None),
    ("/Archives/extras.zip", 12 * MB),
]
EMPTY_FOLDERS = ["/Incoming"]

_SEED_KEYS = {"token", "tokens", "sample", "files", "folders", "dead", "settings", "transfers"}


def populate_sample(emu: Emulator) -> None:
    """A small library: movies (one with an .srt, a Sample/ folder and an .nfo, one with a .txt),
    a show with two seasons, and some non-video files."""
    for path in EMPTY_FOLDERS:
        _ensure_folder(emu, path)
    for path, size in SAMPLE_LIBRARY:
        if emu.file_by_path(path) is None:
            emu.add_path(path, size=size)


def _ensure_folder(emu: Emulator, path: str) -> int:
    with emu.lock:
        parts = [part for part in path.split("/") if part]
        return emu.tree.ensure_folders(parts, ROOT_ID, emu.clock.now())


def load_seed(emu: Emulator, seed: str | Path | dict) -> None:
    """Load a seed: a path to a JSON file or the parsed dict."""
    origin = "seed"
    if isinstance(seed, str | Path):
        origin = str(seed)
        try:
            data = json.loads(Path(seed).read_text(encoding="utf-8"))
        except OSError as err:
            raise ConfigError(
                f"{origin}: cannot read the seed file: {err.strerror or err}"
            ) from err
        except ValueError as err:
            raise ConfigError(f"{origin}: not valid JSON: {err}") from err
    else:
        data = seed
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the seed must be a JSON object")
    unknown = set(data) - _SEED_KEYS
    if unknown:
        raise ConfigError(f"{origin}: unknown seed keys: {', '.join(sorted(unknown))}")
    try:
        _apply(emu, data, origin)
    except (ApiError, ValueError, TypeError) as err:
        raise ConfigError(f"{origin}: {err}") from err


def _strings(data: dict, key: str, origin: str) -> list[str]:
    value = data.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{origin}: {key!r} must be a list of strings")
    return value


def _apply(emu: Emulator, data: dict[str, Any], origin: str) -> None:
    for token in _strings(data, "token", origin) + _strings(data, "tokens", origin):
        emu.add_token(token)
    if data.get("sample"):
        populate_sample(emu)
    for path in _strings(data, "folders", origin):
        _ensure_folder(emu, path)
    files = data.get("files", [])
    if not isinstance(files, list):
        raise ConfigError(f"{origin}: 'files' must be a list")
    for index, entry in enumerate(files):
        if isinstance(entry, str):
            emu.add_path(entry)
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise ConfigError(f"{origin}: files[{index}] needs a 'path' string")
        extra = set(entry) - {"path", "size", "content"}
        if extra:
            raise ConfigError(
                f"{origin}: files[{index}] has unknown keys: {', '.join(sorted(extra))}"
            )
        size = entry.get("size")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            raise ConfigError(f"{origin}: files[{index}].size must be an integer >= 0")
        content = entry.get("content")
        if content is not None and not isinstance(content, str):
            raise ConfigError(f"{origin}: files[{index}].content must be a string")
        emu.add_path(
            entry["path"], size=size, content=None if content is None else content.encode()
        )
    for substring in _strings(data, "dead", origin):
        emu.mark_dead(substring)
    settings = data.get("settings", {})
    if not isinstance(settings, dict):
        raise ConfigError(f"{origin}: 'settings' must be an object")
    try:
        check_settings(settings)
    except ApiError as err:
        raise ConfigError(f"{origin}: 'settings': {err.message}") from err
    with emu.lock:
        emu.settings.update(settings)
    transfers = data.get("transfers", [])
    if not isinstance(transfers, list):
        raise ConfigError(f"{origin}: 'transfers' must be a list")
    for index, entry in enumerate(transfers):
        entry = {"url": entry} if isinstance(entry, str) else entry
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise ConfigError(f"{origin}: transfers[{index}] needs a 'url' string")
        parent_id = ROOT_ID
        if entry.get("save_path"):
            parent_id = _ensure_folder(emu, str(entry["save_path"]))
        emu.add_transfer(entry["url"], parent_id, callback_url=entry.get("callback_url"))
