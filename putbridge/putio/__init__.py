"""The put.io client: one request chokepoint, typed models, device-code login."""

from __future__ import annotations

from putbridge.putio._http import DEFAULT_API_URL, DEFAULT_UPLOAD_URL
from putbridge.putio.client import PutioClient
from putbridge.putio.models import Event, File, OobCode, Subtitle, Transfer

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_UPLOAD_URL",
    "Event",
    "File",
    "OobCode",
    "PutioClient",
    "Subtitle",
    "Transfer",
]
