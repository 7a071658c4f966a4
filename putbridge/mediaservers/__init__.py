"""Telling media servers about new library files: Plex, Jellyfin, Emby and Kodi."""

from .base import CheckResult, MediaServer, ScanResult

__all__ = ["CheckResult", "MediaServer", "ScanResult"]
