"""Intake: turning .torrent files, magnet links and http(s) URLs into ``Source`` values that
can be sent to put.io, from blackhole drops, the web API and the CLI."""

from putbridge.intake.sources import (
    DROP_SUFFIXES,
    MAX_TORRENT_BYTES,
    Source,
    normalize_url,
    parse_link,
    parse_torrent,
    read_drop,
)

__all__ = [
    "DROP_SUFFIXES",
    "MAX_TORRENT_BYTES",
    "Source",
    "normalize_url",
    "parse_link",
    "parse_torrent",
    "read_drop",
]
