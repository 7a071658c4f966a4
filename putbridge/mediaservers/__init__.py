"""Telling media servers about new library files: Plex, Jellyfin, Emby and Kodi."""

from __future__ import annotations

from putbridge.config import MediaServerSettings

from .base import CheckResult, MediaServer, ScanResult

__all__ = ["CheckResult", "MediaServer", "ScanResult", "make_server"]


def make_server(settings: MediaServerSettings) -> MediaServer:
    """The MediaServer for one [[mediaserver]] entry (its module imported only when used)."""
    if settings.kind == "plex":
        from .plex import PlexServer

        return PlexServer(settings)
    if settings.kind in ("jellyfin", "emby"):
        from .jellyfin import EmbyServer, JellyfinServer

        return (JellyfinServer if settings.kind == "jellyfin" else EmbyServer)(settings)
    if settings.kind == "kodi":
        from .kodi import KodiServer

        return KodiServer(settings)
    raise ValueError(f"unknown media server kind {settings.kind!r}")
