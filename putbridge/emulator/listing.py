"""Cursor paging: a listing snapshots its ordered ids once; cursors point into the snapshot.

A cursor is an opaque token naming a stored snapshot and an offset, so continuing costs only the
page itself, repeating a continue (a client retry) returns the same page, and files added while
a listing is read do not shift it. Snapshots expire after an hour unused and only the most
recent `MAX_LISTINGS` are kept.
"""

from __future__ import annotations

import base64
import secrets
import time
from array import array
from collections import OrderedDict
from dataclasses import dataclass, field

from .errors import ApiError

MAX_PER_PAGE = 1000
MAX_LISTINGS = 64
LISTING_TTL = 3600.0


@dataclass
class Listing:
    kind: str
    ids: array
    per_page: int
    context: dict = field(default_factory=dict)
    last_used: float = field(default_factory=time.monotonic)


def _encode(listing_id: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{listing_id}:{offset}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[str, int]:
    padded = cursor + "=" * (-len(cursor) % 4)
    listing_id, _, offset = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
    return listing_id, int(offset)


def validate_per_page(per_page: int | None) -> int | None:
    if per_page is None:
        return None
    if per_page <= 0 or per_page > MAX_PER_PAGE:
        raise ApiError(400, "INVALID_PER_PAGE", f"per_page must be between 1 and {MAX_PER_PAGE}")
    return per_page


class ListingStore:
    def __init__(self) -> None:
        self._listings: OrderedDict[str, Listing] = OrderedDict()

    def start(
        self, kind: str, ids: list[int], per_page: int | None, context: dict | None = None
    ) -> tuple[list[int], str | None]:
        """The first page of `ids` and a cursor for the rest (None when it all fits)."""
        per_page = validate_per_page(per_page)
        if per_page is None or len(ids) <= per_page:
            return list(ids), None
        listing_id = secrets.token_hex(12)
        self._expire()
        self._listings[listing_id] = Listing(kind, array("q", ids), per_page, context or {})
        while len(self._listings) > MAX_LISTINGS:
            self._listings.popitem(last=False)
        return list(ids[:per_page]), _encode(listing_id, per_page)

    def resume(
        self, kind: str, cursor: str | None, per_page: int | None
    ) -> tuple[list[int], str | None, dict]:
        """The page at `cursor`, the next cursor (None at the end) and the listing's context."""
        per_page = validate_per_page(per_page)
        if not cursor:
            raise ApiError(400, "INVALID_CURSOR", "cursor is required")
        try:
            listing_id, offset = _decode(cursor)
        except (ValueError, UnicodeDecodeError) as err:
            raise ApiError(400, "INVALID_CURSOR", "The cursor is invalid") from err
        self._expire()
        listing = self._listings.get(listing_id)
        if listing is None or listing.kind != kind or offset < 0 or offset > len(listing.ids):
            raise ApiError(400, "INVALID_CURSOR", "The cursor is invalid or has expired")
        listing.last_used = time.monotonic()
        self._listings.move_to_end(listing_id)
        size = per_page or listing.per_page
        end = min(offset + size, len(listing.ids))
        page = listing.ids[offset:end].tolist()
        if end >= len(listing.ids):
            return page, None, listing.context
        return page, _encode(listing_id, end), listing.context

    def _expire(self) -> None:
        cutoff = time.monotonic() - LISTING_TTL
        stale = [key for key, listing in self._listings.items() if listing.last_used < cutoff]
        for key in stale:
            del self._listings[key]

    def clear(self) -> None:
        self._listings.clear()
