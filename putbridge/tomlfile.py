"""Small TOML helpers: print settings, and set one key in a user's file keeping the rest of it.

The standard library reads TOML but does not write it. We need two narrow things, so they are
written here rather than adding a dependency: dump plain data (for `putbridge config`), and
change `[table] key = "value"` in place (for `putbridge login`), leaving comments and every other
line as the user wrote them.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from putbridge.errors import ConfigError

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else json.dumps(name)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # JSON's escapes (\" \\ \n \uXXXX) are all valid in a TOML basic string.
        return json.dumps(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if value is None:
        raise ValueError("TOML has no null")
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def dumps(data: dict[str, Any]) -> str:
    """TOML text for a dict of scalars, tables and lists of tables (one level deep)."""
    lines: list[str] = []
    scalars = {k: v for k, v in data.items() if not _is_table(v) and not _is_table_list(v)}
    for key, value in scalars.items():
        if value is not None:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in data.items():
        if _is_table(value):
            lines += ["", f"[{_key(key)}]"]
            lines += [f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None]
        elif _is_table_list(value):
            for item in value:
                lines += ["", f"[[{_key(key)}]]"]
                lines += [f"{_key(k)} = {_value(v)}" for k, v in item.items() if v is not None]
    return "\n".join(lines).lstrip("\n") + "\n"


def _is_table(value: Any) -> bool:
    # Small string maps (path_map) print inline; sections print as [table].
    return isinstance(value, dict) and not all(isinstance(v, str) for v in value.values())


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_ARRAY_HEADER = re.compile(r"^\s*\[\[")


def set_key(path: Path, table: str, key: str, value: str) -> None:
    """Set ``[table] key = value`` in the TOML file at ``path``, creating the file if needed.

    The file keeps every other line; it is replaced atomically and left readable by its owner
    only (it holds a secret).
    """
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    new_text = _with_key(text, table, key, value)
    try:
        parsed = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML, not changing it: {err}") from err
    if parsed.get(table, {}).get(key) != value:
        raise ConfigError(
            f"{path}: could not set {table}.{key} in this file's layout; "
            f"add it by hand under [{table}]"
        )
    write_private(path, new_text)


def _with_key(text: str, table: str, key: str, value: str) -> str:
    lines = text.splitlines()
    assignment = f"{_key(key)} = {_value(value)}"
    key_line = re.compile(rf"^\s*(\"{re.escape(key)}\"|'{re.escape(key)}'|{re.escape(key)})\s*=")
    start = None
    for i, line in enumerate(lines):
        header = _HEADER.match(line)
        if header and not _ARRAY_HEADER.match(line) and header.group(1).strip("\"'") == table:
            start = i
            break
    if start is None:
        if lines and lines[-1].strip():
            lines.append("")
        lines += [f"[{table}]", assignment]
        return "\n".join(lines) + "\n"
    end = len(lines)
    for j in range(start + 1, len(lines)):
        if _HEADER.match(lines[j]) or _ARRAY_HEADER.match(lines[j]):
            end = j
            break
    for j in range(start + 1, end):
        if key_line.match(lines[j]):
            lines[j] = assignment
            return "\n".join(lines) + "\n"
    lines.insert(start + 1, assignment)
    return "\n".join(lines) + "\n"


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically with mode 0600 (its folder made 0700 if new)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
