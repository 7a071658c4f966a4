"""NFO sidecars (Kodi's format, read by Jellyfin and Emby too): just enough to pin a match.

Only what putbridge knows for sure goes in: the title and year a name was parsed into, season and
episode numbers. A made-up value would be worse than none, because local NFO data takes
precedence over the online scrapers in Jellyfin and Kodi; so an unknown episode title is left
out rather than filled with a placeholder.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
# Characters XML 1.0 forbids outright (no escape makes them legal) and the noncharacters it
# discourages; also CR, which a parser would turn into LF, so a title could not round-trip.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_LINE_BREAKS = re.compile("[\r\n\t\u2028\u2029\x85]+")


def xml_text(value: str) -> str:
    """``value`` as it will read back from the NFO: line breaks as spaces, illegal characters
    gone. (Escaping of & < > and quotes is the serializer's job.)"""
    return _ILLEGAL.sub("", _LINE_BREAKS.sub(" ", value))


def _element(tag: str, fields: Iterable[tuple[str, object]]) -> ET.Element:
    root = ET.Element(tag)
    for name, value in fields:
        if value is None:
            continue
        ET.SubElement(root, name).text = xml_text(str(value))
    return root


def _document(*elements: ET.Element) -> str:
    blocks = []
    for element in elements:
        ET.indent(element, space="  ")
        blocks.append(ET.tostring(element, encoding="unicode"))
    return "\n".join([XML_DECLARATION, *blocks]) + "\n"


def movie_nfo(title: str, year: int | None) -> str:
    return _document(_element("movie", [("title", title), ("year", year)]))


def tvshow_nfo(title: str, year: int | None) -> str:
    return _document(_element("tvshow", [("title", title), ("year", year)]))


def episode_nfo(show: str, season: int, episodes: Iterable[int], title: str | None) -> str:
    """One ``<episodedetails>`` per episode, stacked in one file for a multi-episode video (how
    Kodi's wiki describes it; a strict XML parser sees several roots, Kodi and Jellyfin don't
    mind)."""
    numbers = sorted(set(episodes))
    if not numbers:
        raise ValueError("an episode NFO needs at least one episode number")
    return _document(
        *(
            _element(
                "episodedetails",
                # Kodi requires a <title>; most release names carry no episode title, so the
                # episode's number stands in (a scraper, if enabled, still finds the real one).
                [
                    ("title", title or f"Episode {number}"),
                    ("showtitle", show),
                    ("season", season),
                    ("episode", number),
                ],
            )
            for number in numbers
        )
    )
