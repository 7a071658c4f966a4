"""Scene-named episodes and their folders, read without guessit.

guessit costs milliseconds a name. Most episodes on put.io are named one of a few ways
("Show.Name.S01E02.720p.WEB.x264-GRP.mkv", "Show Name - S01E02 - Title.mkv") inside folders
named just as plainly ("TV", "Season 01", "Show Name (2019)", "Show.Name.S01.1080p.WEB-GRP").
These readers give what guessit gives for such names, field by field, and None for anything
else, so the caller falls back to guessit whenever there is doubt. A title word is taken only
when it is made of ASCII letters, is not a word guessit gives another meaning (its own
vocabulary, its languages and countries, release tags) and, when short, is a known plain word:
tests/test_library_scene_episode.py holds the agreement with guessit over thousands of names.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib.resources import files
from typing import NamedTuple

import babelfish


class SceneRead(NamedTuple):
    """The fields of naming._Guess, in its order, as guessit would read them."""

    title: str | None = None
    year: int | None = None
    seasons: tuple[int, ...] = ()
    episodes: tuple[int, ...] = ()
    episode_title: str | None = None


# Release tags guessit reads as what they are (resolution, source, service, codecs), after any
# flags; a flag with no tag after it ("Title.PROPER-GRP") can be read as part of a title.
_FLAG = "(?:proper|repack|internal)"
_TAG_WORDS = sorted(
    (
        "480p 576p 720p 1080p 1080i 2160p web web-dl webdl webrip bluray bdrip brrip hdtv"
        r" dvdrip amzn nf dsnp hmax atvp hulu x264 x265 h\.?264 h\.?265 hevc avc xvid 10bit"
        r" aac aac2\.0 ac3 dd5\.1 ddp5\.1 ddp2\.0 eac3 dts truehd atmos flac hdr hdr10"
    ).split(),
    key=len,
    reverse=True,  # longest first: "web-dl" is not "web" and a group "-dl"
)
_TAG = "(?:" + "|".join(_TAG_WORDS) + ")"
_WORD = r"(?:[A-Za-z]+(?:'[A-Za-z]{1,2})?)"
_DOTTED_TITLE = rf"(?:(?:{_WORD}|&)(?:\.(?:{_WORD}|&))*?)"
_SPACED_TITLE = rf"(?:(?:{_WORD}(?:-{_WORD})?|&)(?: (?:{_WORD}(?:-{_WORD})?|&))*)"
_YEAR = r"(?P<year>(?:19[3-9]|20[0-2])\d)"
_SXXEYY = r"[Ss](?P<season>\d\d)[Ee](?P<episode>\d{2,3})"
_TAGS = rf"(?:(?:\.{_FLAG})*(?:\.{_TAG})+(?:-(?P<group>[A-Za-z][A-Za-z0-9]{{1,14}}))?)?"
_VIDEO = re.compile(r"\.(?:mkv|mp4|avi|m4v)$", re.IGNORECASE)

_EPISODE_FORMS = (
    # Show.Name[.2019].S01E02[.Episode.Title][.720p.WEB...][-GROUP]
    re.compile(
        rf"(?P<title>{_DOTTED_TITLE})(?:\.{_YEAR})?\.{_SXXEYY}"
        rf"(?:\.(?P<episode_title>{_DOTTED_TITLE}))??{_TAGS}",
        re.IGNORECASE,
    ),
    # Show Name[ (2019)] - S01E02[ - Episode Title]
    re.compile(
        rf"(?P<title>{_SPACED_TITLE})(?: \({_YEAR}\))? - {_SXXEYY}"
        rf"(?: - (?P<episode_title>{_SPACED_TITLE}))?",
        re.IGNORECASE,
    ),
)
_SEASON_FOLDER = re.compile(r"Season (?P<season>\d{1,2})", re.IGNORECASE)
_SHOW_FOLDER = re.compile(rf"(?P<title>{_SPACED_TITLE})(?: \({_YEAR}\))?")
_RELEASE_FOLDER = re.compile(
    rf"(?P<title>{_DOTTED_TITLE})(?:\.{_YEAR})?\.[Ss](?P<season>\d\d){_TAGS}", re.IGNORECASE
)

# Short words guessit leaves in a title wherever they stand (checked by the agreement test);
# any other word of one or two letters may be a language, a country or a marker.
_SHORT_WORDS = frozenset({"a", "an", "of", "in", "on", "to", "at", "by", "my", "is", "me", "we"})
# Words that may not open or close a title (guessit trims some stop words at the edges).
_EDGE_WORDS = frozenset({"of", "in", "on", "to", "at", "by", "and", "or", "is", "for"})
_LEADING_WORDS = frozenset({"the", "a", "an"})
_PLAIN_WORDS = frozenset(
    {"the", "and", "for", "of", "in", "on", "to", "at", "by", "my", "a", "an", "with", "from"}
)
_ROMAN = re.compile(r"[ivxlcdm]+")
_APOSTROPHE_ENDINGS = frozenset({"s", "t", "re", "ll", "ve", "d", "m"})
# Words guessit gives a meaning of its own, beyond its configuration file.
_EXTRA_RESERVED = (
    "minisode creditless opening ending credits pilot unaired final special extras satellite"
    " telecine telesync workprint camera laserdisc digital master high quality main baseline"
    " scene video reality virtual ultra cam episode episodes season seasons part vol volume"
    " saison complete sample trailer proper repack internal web webrip webdl bluray hdtv"
    " directors director cut edition extended uncut unrated remastered theatrical imax"
    " criterion collector collectors dubbed subbed dual multi dvd disc rip hevc xvid"
    " grown ish ends oshi memorist convert collection"
)


@lru_cache(maxsize=1)
def _reserved() -> frozenset[str]:
    """Every word guessit may read as something other than a title, lowercased."""
    config = json.loads(files("guessit.config").joinpath("options.json").read_text("utf-8"))
    words: set[str] = set(_EXTRA_RESERVED.split())

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(key)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str):
            words.update(w.lower() for w in re.findall(r"[A-Za-z]+", value))

    walk(config)
    for code in config.get("allowed_languages", ()):
        try:
            language = babelfish.Language.fromietf(code)
        except (ValueError, babelfish.Error):
            continue
        words.update(w.lower() for w in re.findall(r"[A-Za-z]+", language.name))
        words.add(language.alpha3)
        for converter in ("alpha2", "alpha3b", "alpha3t", "opensubtitles"):
            try:
                words.add(getattr(language, converter).lower())
            except (AttributeError, babelfish.Error):
                pass
    for alpha2, name in babelfish.COUNTRIES.items():
        words.add(alpha2.lower())
        words.update(w.lower() for w in re.findall(r"[A-Za-z]+", name))
    return frozenset(words - _PLAIN_WORDS)


def _plain_word(word: str) -> bool:
    if word == "&":
        return True
    stem, _, ending = word.partition("'")
    if ending and ending.lower() not in _APOSTROPHE_ENDINGS:
        return False
    parts = stem.split("-")
    return all(_plain_part(part.lower()) for part in parts)


def _plain_part(part: str) -> bool:
    if len(part) <= 2:
        return part in _SHORT_WORDS
    if _ROMAN.fullmatch(part):
        return False
    return part not in _reserved()


def _title(raw: str, dotted: bool) -> str | None:
    """The title guessit reads from plain words, or None when a word is not plain."""
    words = raw.split(".") if dotted else raw.split(" ")
    if not all(_plain_word(word) for word in words):
        return None
    first, last = words[0].lower(), words[-1].lower()
    if first in _EDGE_WORDS or last in _EDGE_WORDS or last in _LEADING_WORDS:
        return None
    if words[0] == "&" or words[-1] == "&":
        return None
    return " ".join(words)


def read_episode(file_name: str) -> SceneRead | None:
    """What guessit reads from a plainly named episode file, or None when in doubt."""
    stem, found = _VIDEO.subn("", file_name)
    if not found or not stem.isascii():
        return None
    for dotted, form in zip((True, False), _EPISODE_FORMS, strict=True):
        match = form.fullmatch(stem)
        if match is None:
            continue
        title = _title(match["title"], dotted)
        if title is None or not _plain_group(match):
            return None
        episode_title = None
        if match["episode_title"] is not None:
            episode_title = _title(match["episode_title"], dotted)
            if episode_title is None:
                return None
        year = int(match["year"]) if match["year"] else None
        return SceneRead(
            title, year, (int(match["season"]),), (int(match["episode"]),), episode_title
        )
    return None


def read_folder(name: str) -> SceneRead | None:
    """What guessit reads from a plain season, show or release folder name, or None."""
    if not name.isascii():
        return None
    season = _SEASON_FOLDER.fullmatch(name)
    if season is not None:
        return SceneRead(seasons=(int(season["season"]),))
    show = _SHOW_FOLDER.fullmatch(name)
    if show is not None:
        title = _title(show["title"], dotted=False)
        year = int(show["year"]) if show["year"] else None
        return None if title is None else SceneRead(title, year)
    release = _RELEASE_FOLDER.fullmatch(name)
    if release is not None and _plain_group(release):
        title = _title(release["title"], dotted=True)
        year = int(release["year"]) if release["year"] else None
        return None if title is None else SceneRead(title, year, (int(release["season"]),))
    return None


def _plain_group(match: re.Match[str]) -> bool:
    group = match.groupdict().get("group")
    return group is None or group.lower() not in _reserved()
