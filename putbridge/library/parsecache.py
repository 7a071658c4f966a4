"""What each video name parsed to, remembered in the store across runs.

guessit takes milliseconds a name; a large account has tens of thousands. Remembering each
(name, parent folders) -> MediaInfo in SQLite makes every sync after the first plan as fast as
a dictionary lookup. The key carries the parser and guessit versions, so an upgrade that reads
names differently starts afresh rather than mixing old and new answers.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from importlib.metadata import version

from putbridge.library.naming import MediaInfo, parse_media
from putbridge.store import Store

# Bump when putbridge's own reading of names changes.
PARSER_VERSION = 1


class ParseCache:
    """A ``parse(name, parents)`` for the planner, backed by the ``media_parse`` table."""

    def __init__(
        self,
        store: Store,
        parse: Callable[[str, Sequence[str]], MediaInfo | None] = parse_media,
    ) -> None:
        self.store = store
        self._parse = parse
        self._prefix = f"{PARSER_VERSION}:{version('guessit')}\x00"
        rows = store.query(
            "SELECT key, result FROM media_parse WHERE key >= ? AND key < ?",
            (self._prefix, self._prefix + "\U0010ffff"),
        )
        self._known: dict[str, str] = {row["key"]: row["result"] for row in rows}
        self._new: dict[str, str] = {}
        self.hits = 0
        self.misses = 0

    def __call__(self, name: str, parents: Sequence[str]) -> MediaInfo | None:
        key = self._prefix + "\x00".join((name, *parents))
        stored = self._known.get(key)
        if stored is not None:
            self.hits += 1
            return _load(stored)
        self.misses += 1
        info = self._parse(name, parents)
        self._new[key] = _dump(info)  # the planner asks once per video: no need to keep it
        return info

    def save(self) -> None:
        """Write what this run learned; older versions' rows are dropped on the way."""
        if not self._new:
            return
        with self.store.write() as conn:
            conn.execute(
                "DELETE FROM media_parse WHERE NOT (key >= ? AND key < ?)",
                (self._prefix, self._prefix + "\U0010ffff"),
            )
            conn.executemany(
                "INSERT OR REPLACE INTO media_parse (key, result) VALUES (?, ?)",
                self._new.items(),
            )
        self._new.clear()


def _dump(info: MediaInfo | None) -> str:
    return "null" if info is None else json.dumps(dataclasses.asdict(info))


def _load(text: str) -> MediaInfo | None:
    data = json.loads(text)
    if data is None:
        return None
    data["episodes"] = tuple(data["episodes"])
    return MediaInfo(**data)
