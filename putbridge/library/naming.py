"""Local names for put.io files: safe path components, media parsing, media-server naming.

put.io names are user data (torrent authors pick them), so every component written to disk goes
through ``safe_component``: a name that can neither escape the library root nor break a Linux,
macOS, Windows/SMB or media-server reader. The media names follow Jellyfin/Plex/Kodi conventions:
``Title (Year)/Title (Year).ext`` and ``Show (Year)/Season 01/Show (Year) - S01E02.ext``.

No I/O here; guessit results are cached because it costs milliseconds per call.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from guessit import guessit

from putbridge.library.scene import read_episode, read_folder

MAX_COMPONENT_BYTES = 255  # NAME_MAX on Linux/ext4/btrfs/xfs and what SMB/NTFS take in practice
# A trailing ".xyz" longer than this is part of the name, not an extension worth keeping.
_MAX_EXTENSION_BYTES = 32

# Windows refuses these as a file's base name, with any extension, in any case.
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{dev}{n}" for dev in ("COM", "LPT") for n in (*"0123456789", "¹", "²", "³")}
)


def _translation() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for code in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)):
        table[code] = "_"  # C0, DEL, C1: never part of a readable name
    for code in (0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x85, 0x2028, 0x2029):
        table[code] = " "  # line and field breaks read as a gap between words
    # Bidi embeddings, overrides and isolates reorder what a listing shows ("evil\u202egpj.mkv"
    # displays as "evilvkm.jpg"); the BOM is an invisible leftover. None carries meaning here.
    for code in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF):
        table[code] = None
    for code in range(0xFDD0, 0xFDF0):
        table[code] = "_"  # noncharacters: some filesystems and SMB servers refuse them
    for plane in range(17):
        table[plane * 0x10000 + 0xFFFE] = "_"
        table[plane * 0x10000 + 0xFFFF] = "_"
    # Separators and the characters Windows/SMB reserve, each for a readable stand-in.
    table.update(
        {
            ord("/"): "-",
            ord("\\"): "-",
            ord(":"): "-",
            ord("*"): "-",
            ord("|"): "-",
            ord("?"): None,
            ord('"'): "'",
            ord("<"): "(",
            ord(">"): ")",
        }
    )
    return table


_TRANSLATION = _translation()
_SURROGATE = re.compile("[\ud800-\udfff]")
_SPACED_COLON = re.compile(r"\s*:\s+")  # "Title: Subtitle" -> "Title - Subtitle"


def _fix_surrogates(name: str) -> str:
    """Pair up surrogate halves into real characters; a lone half becomes "_"."""
    if not _SURROGATE.search(name):
        return name
    paired = name.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return _SURROGATE.sub("_", paired)


def _joins_previous(char: str) -> bool:
    """Whether a cut just before this character would split what is displayed as one glyph."""
    code = ord(char)
    return (
        unicodedata.category(char) in ("Mn", "Mc", "Me")
        or code == 0x200D
        or 0xFE00 <= code <= 0xFE0F
        or 0x1F3FB <= code <= 0x1F3FF  # emoji skin tones
        or 0xE0020 <= code <= 0xE007F  # emoji tag sequences (subdivision flags)
    )


def clip_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` within ``max_bytes`` of UTF-8, never splitting a character
    and, where possible, not a combining sequence (a base letter keeps its accents)."""
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= max_bytes:
        return text
    cut = len(encoded[:max_bytes].decode("utf-8", "ignore"))
    end = cut
    while end > 0 and (_joins_previous(text[end]) or text[end - 1] == "\u200d"):
        end -= 1
    # A run of marks longer than the budget has no good boundary; a character boundary will do.
    return text[:end] if end > 0 else text[:cut]


def _strip_ends(name: str) -> str:
    # Leading dots hide a file from Unix listings and media-server scans; trailing dots and
    # spaces are silently dropped by Windows, so two names would become one there.
    while True:
        stripped = name.strip().lstrip(".").rstrip(".")
        if stripped == name:
            return name
        name = stripped


def _unreserve(name: str) -> str:
    base = name.split(".", 1)[0].rstrip(" ")
    if base.upper() in _RESERVED:
        return f"{base}_{name[len(base) :]}"
    return name


def _sanitize_once(name: str, keep_extension: bool) -> str:
    name = _fix_surrogates(name)
    name = _SPACED_COLON.sub(" - ", name).translate(_TRANSLATION)
    name = _strip_ends(unicodedata.normalize("NFC", name)) or "_"
    name = _unreserve(name)
    if len(name.encode()) > MAX_COMPONENT_BYTES:
        dot = name.rfind(".") if keep_extension else -1
        extension = name[dot:] if dot > 0 else ""
        if len(extension.encode()) > _MAX_EXTENSION_BYTES or any(c.isspace() for c in extension):
            extension = ""
        stem = name[: len(name) - len(extension)]
        name = clip_utf8(stem, MAX_COMPONENT_BYTES - len(extension.encode())) + extension
    return name


# Small on purpose: folder, show and season names repeat; most video stems never do.
@lru_cache(maxsize=16384)
def safe_component(name: str, *, keep_extension: bool = True) -> str:
    """One path component that is safe on every filesystem a media library lives on.

    NFC; no separators, control, bidi-override or Windows-reserved characters (``: / \\ * |``
    become "-", ``"`` "'", ``< >`` "( )", ``?`` is dropped); no leading dots, no leading or
    trailing whitespace, no trailing dots; never "", "." or ".."; Windows device names get a
    "_" after the base ("con.mkv" -> "con_.mkv"); at most 255 bytes of UTF-8, keeping a short
    extension when ``keep_extension``. Idempotent.
    """
    # Each step can expose work for another (NFC after a dropped bidi mark, a trailing dot after
    # a cut), so repeat to a fixed point; it settles within two or three rounds.
    for _ in range(8):
        cleaned = _sanitize_once(name, keep_extension)
        if cleaned == name:
            break
        name = cleaned
    return name


def safe_relpath(parts: Sequence[str]) -> str:
    """The components made safe and joined with "/"; only the last keeps its extension whole."""
    if not parts:
        raise ValueError("a relative path needs at least one component")
    *folders, last = parts
    safe = [safe_component(part, keep_extension=False) for part in folders]
    return "/".join([*safe, safe_component(last)])


def inside_root(root: Path, relpath: str) -> Path:
    """root/relpath, resolved lexically; ValueError unless it lies strictly inside root.

    ".." is refused outright rather than normalised away: with a symlinked folder in between,
    "a/../b" on disk is not where the text says.
    """
    if not relpath or "\x00" in relpath or "\\" in relpath:
        raise ValueError(f"unsafe library path {relpath!r}")
    if relpath.startswith("/") or os.path.isabs(relpath):
        raise ValueError(f"library path {relpath!r} is absolute")
    if any(part in ("..", ".") for part in relpath.split("/")):
        raise ValueError(f"library path {relpath!r} steps outside its folder")
    base = os.path.normpath(os.fspath(root))
    target = os.path.normpath(os.path.join(base, relpath))
    prefix = base if base.endswith(os.sep) else base + os.sep
    if target == base or not target.startswith(prefix):
        raise ValueError(f"library path {relpath!r} is not inside {base}")
    return Path(target)


# ---------------------------------------------------------------------------------------------
# Media parsing


@dataclass(frozen=True, slots=True)
class MediaInfo:
    kind: str  # "movie" | "episode"
    title: str  # the movie, or the show for an episode
    year: int | None = None
    season: int | None = None  # 0 for specials
    episodes: tuple[int, ...] = ()  # several for a multi-episode file
    episode_title: str | None = None


class _Guess(NamedTuple):
    title: str | None = None
    year: int | None = None
    seasons: tuple[int, ...] = ()
    episodes: tuple[int, ...] = ()
    episode_title: str | None = None
    is_episode: bool = False


# Folders looked at above a file: Show/Season 2/file, or a release folder and its parent.
_PARENT_LOOKBACK = 3
# Top-level folder names that say what is inside rather than naming a title.
_GENERIC_FOLDERS = frozenset(
    {
        "movies", "films", "film", "movie", "tv", "tv shows", "tvshows", "shows", "series",
        "anime", "downloads", "download", "videos", "video", "media", "complete", "completed",
        "incoming", "new", "putio", "put io", "unsorted",
    }
)  # fmt: skip
_SPECIALS_FOLDERS = frozenset({"specials", "special", "extras season"})
_EMPTY = _Guess()
_TITLE_JUNK = " \t-_,;:+~"


def _clean_title(value: Any) -> str | None:
    if isinstance(value, list):
        value = next((item for item in value if isinstance(item, str)), None)
    if not isinstance(value, str):
        return None
    text = _fix_surrogates(value)
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    text = " ".join(unicodedata.normalize("NFC", text).split()).strip(_TITLE_JUNK)
    return text or None


def _numbers(value: Any) -> tuple[int, ...]:
    items = value if isinstance(value, list) else [value]
    found = {item for item in items if isinstance(item, int) and not isinstance(item, bool)}
    return tuple(sorted(n for n in found if 0 <= n < 100_000))


def _guess(name: str) -> _Guess:
    try:
        found = guessit(name, {"name_only": True})
    except Exception:  # guessit on hostile input: "cannot place" beats a failed plan
        return _EMPTY
    year = found.get("year")
    return _Guess(
        title=_clean_title(found.get("title")),
        year=year if isinstance(year, int) and 1870 <= year <= 2200 else None,
        seasons=_numbers(found.get("season")),
        episodes=_numbers(found.get("episode")),
        episode_title=_clean_title(found.get("episode_title")),
        is_episode=found.get("type") == "episode",
    )


@lru_cache(maxsize=32768)
def _guess_folder(name: str) -> _Guess:
    # A season of 20 episodes shares its two folders: parse each folder name once.
    if name.strip().casefold() in _SPECIALS_FOLDERS:
        return _Guess(seasons=(0,), is_episode=True)
    guess = _guess(name)
    if guess.title and not guess.year and guess.title.casefold() in _GENERIC_FOLDERS:
        return guess._replace(title=None, year=None)
    return guess


def _is_season_folder(guess: _Guess) -> bool:
    return len(guess.seasons) == 1 and not guess.title and not guess.episodes


def parse_media(file_name: str, parents: Sequence[str]) -> MediaInfo | None:
    """What a video is, from its name and the folders above it (top down), or None when it
    cannot be placed: no title anywhere, an episode without a season and episode number
    (absolute-numbered anime outside a season folder, date-based shows), several seasons.
    """
    return _parse_cached(file_name, tuple(parents[-_PARENT_LOOKBACK:]))


@lru_cache(maxsize=131072)
def _parse_cached(file_name: str, parents: tuple[str, ...]) -> MediaInfo | None:
    tidy = _tidy_movie(file_name, parents[-1]) if parents else None
    if tidy is not None:
        return tidy
    scene = scene_movie(file_name) or scene_episode(file_name, parents)
    if scene is not None:
        return scene
    return _parse_guessit(file_name, parents)


def _parse_guessit(file_name: str, parents: tuple[str, ...]) -> MediaInfo | None:
    own = _guess_file(file_name)
    if own.is_episode or own.episodes:
        return _place_episode(own, [_guess_folder(name) for name in reversed(parents)])
    return _place_movie(own, parents)


# "Show.S03E07.720p" and "Show.3x07" name one episode of a season pack whose other files differ
# only in those digits: guessit reads the name with the digits as 01/01 once per pack, and the
# real numbers go back in when it found exactly those placeholders (else it reads the real name).
_EPISODE_MARKS = (
    re.compile(r"(?<![a-z0-9])s(\d{1,2})[ .]?e(\d{1,3})(?![0-9]|[ .-]*e\d|-\d)", re.IGNORECASE),
    re.compile(r"(?<![a-z0-9])(\d{1,2})x(\d{2,3})(?![0-9a-z]|-\d)", re.IGNORECASE),
)


def _guess_file(name: str) -> _Guess:
    for mark in _EPISODE_MARKS:
        found = list(mark.finditer(name))
        if len(found) != 1:
            continue
        match = found[0]
        template = "".join(
            (name[: match.start(1)], "01", name[match.end(1) : match.start(2)], "01",
             name[match.end(2) :])
        )  # fmt: skip
        guess = _guess_template(template)
        if guess.seasons == (1,) and guess.episodes == (1,):
            return guess._replace(seasons=(int(match[1]),), episodes=(int(match[2]),))
        break
    return _guess(name)


@lru_cache(maxsize=32768)
def _guess_template(template: str) -> _Guess:
    return _guess(template)


# "Title.Of.Film.2010.1080p.BluRay.x264-GRP.mkv": a title, the last year-like number, then a
# resolution or source tag. Most put.io videos are named this way; reading them without guessit
# (milliseconds a call) keeps the first sync of a large account fast. Anything else, guessit.
_SCENE_MOVIE = re.compile(
    r"(?P<title>[^\[\]{}]+?(?:[ ._](?:19|20)\d{2}(?=[ ._]))*)[ ._]\(?(?P<year>(?:19|20)\d{2})\)?"
    r"(?:[ ._-]+(?P<tag>\d{3,4}p|bluray|blu-ray|bdrip|brrip|web-?dl|webrip|web|hdtv|dvdrip"
    r"|remux|uhd|hdr|2160p|4k)(?![a-z0-9]).*)?",
    re.IGNORECASE,
)
# Words guessit reads as something other than title (edition, language, release flags): a title
# holding one goes to guessit.
_NOT_TITLE_WORDS = re.compile(
    r"(?<![a-z0-9])(?:directors?|cut|extended|unrated|uncut|remastered|theatrical|edition|imax"
    r"|criterion|collectors?|special|3d|proper|repack|internal|limited|multi|french|german"
    r"|spanish|italian|vostfr|dubbed|subbed|hdr|part|cd\d|disc|dvd|complete|sample|trailer)"
    r"(?![a-z0-9])",
    re.IGNORECASE,
)
_VIDEO_SUFFIX = re.compile(r"\.(?:mkv|mp4|avi|m4v|mov|webm|ts|wmv|mpg|mpeg|m2ts)$", re.IGNORECASE)


def scene_movie(file_name: str) -> MediaInfo | None:
    """The movie a plainly named release is, or None when the name needs guessit."""
    stem = _VIDEO_SUFFIX.sub("", file_name)
    match = _SCENE_MOVIE.fullmatch(stem)
    if match is None or (match["tag"] is None and match.end("year") + 1 < len(stem)):
        return None
    if _EPISODE_WORD.search(stem) or any(m.search(stem) for m in _EPISODE_MARKS):
        return None
    raw = match["title"]
    if _NOT_TITLE_WORDS.search(raw):
        return None
    title = _clean_title(raw if " " in raw else raw.replace(".", " ").replace("_", " "))
    if not title or title.casefold() in _GENERIC_FOLDERS:
        return None
    return MediaInfo(kind="movie", title=title, year=int(match["year"]))


def scene_episode(file_name: str, parents: Sequence[str]) -> MediaInfo | None:
    """The episode a plainly named file in plainly named folders is (what guessit would make of
    it), or None when anything needs guessit."""
    own = read_episode(file_name)
    if own is None:
        return None
    folders = []
    for name in reversed(parents[-_PARENT_LOOKBACK:]):
        if name.strip().casefold() in _SPECIALS_FOLDERS:
            folders.append(_Guess(seasons=(0,), is_episode=True))
        elif name in _SCENE_GENERIC:
            folders.append(_EMPTY)
        elif (read := read_folder(name)) is not None and _clean_title(read.title) == read.title:
            if read.title and not read.year and read.title.casefold() in _GENERIC_FOLDERS:
                return None
            folders.append(_Guess(*read))
        else:
            return None
    return _place_episode(_Guess(*own, is_episode=True), folders)


# Generic folder names as commonly spelt; guessit finds no title, year or number in any of them.
_SCENE_GENERIC = frozenset(
    spelling
    for name in _GENERIC_FOLDERS
    for spelling in (name, name.title(), name.upper(), name.title().replace("Tv", "TV"))
)


def _tidy_movie(file_name: str, folder_name: str) -> MediaInfo | None:
    """The movie of a "Title (Year)" folder when the file name repeats that title and year, as
    Radarr and Jellyfin name them: the folder says it all, no guessit call needed."""
    tidy = _TIDY_FOLDER.fullmatch(folder_name.strip())
    if tidy is None or not 1870 <= int(tidy["year"]) <= 2200:
        return None
    if _EPISODE_WORD.search(file_name) or any(m.search(file_name) for m in _EPISODE_MARKS):
        return None
    head = _squash(f"{tidy['title']} {tidy['year']}")
    name = _squash(file_name)
    title = _clean_title(tidy["title"])
    if title and head and (name == head or name.startswith(head + " ")):
        return MediaInfo(kind="movie", title=title, year=int(tidy["year"]))
    return None


def _same_title(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and _squash(a) == _squash(b)


def _squash(title: str) -> str:
    return " ".join(_SEPARATORS.split(title.casefold())).strip()


_SEPARATORS = re.compile(r"[\s._()\[\]]+")
_EPISODE_WORD = re.compile(r"(?<![a-z0-9])(?:ep?|episode)[ ._-]?\d", re.IGNORECASE)
_TIDY_FOLDER = re.compile(r"(?P<title>[^()]+?) \((?P<year>\d{4})\)")


def _place_episode(own: _Guess, folders: list[_Guess]) -> MediaInfo | None:
    if not own.episodes or len(own.seasons) > 1:
        return None
    seasons = own.seasons or next((f.seasons for f in folders if len(f.seasons) == 1), ())
    if not seasons:
        return None
    titled = [f for f in folders if f.title]
    # Show/Season 02/file: the show folder names the series (as Jellyfin and Kodi read it),
    # even when the file spells it differently ("Marvels" vs "Marvel's").
    show = titled[0] if folders and _is_season_folder(folders[0]) and titled else None
    if show is None and own.title:
        show = next((f for f in titled if _same_title(f.title, own.title)), own)
    if show is None:
        show = titled[0] if titled else None
    if show is None or show.title is None:
        return None
    year = show.year or (own.year if _same_title(own.title, show.title) else None)
    return MediaInfo(
        kind="episode",
        title=show.title,
        year=year,
        season=seasons[0],
        episodes=own.episodes,
        episode_title=own.episode_title,
    )


def _place_movie(own: _Guess, parents: tuple[str, ...]) -> MediaInfo | None:
    folder_name = parents[-1] if parents else None
    if own.title and own.year:
        # The same film spelt tidier one level up ("The Matrix (1999)/the.matrix.1999.mkv"),
        # checked without guessit: most movies have their own folder, and this is the common case.
        tidy = _TIDY_FOLDER.fullmatch(folder_name.strip()) if folder_name else None
        if tidy and int(tidy["year"]) == own.year and _same_title(tidy["title"], own.title):
            return MediaInfo(
                kind="movie", title=_clean_title(tidy["title"]) or own.title, year=own.year
            )
        return MediaInfo(kind="movie", title=own.title, year=own.year)
    nearest = _guess_folder(folder_name) if folder_name else _EMPTY
    if not nearest.title or nearest.is_episode:
        return MediaInfo(kind="movie", title=own.title, year=None) if own.title else None
    if nearest.year or not own.title:
        # "Movie (1999)/movie.mkv", "Movie.1999.1080p-GRP/grp-m1080p.mkv": the folder is the
        # release and the file name often an abbreviation.
        return MediaInfo(kind="movie", title=nearest.title, year=nearest.year)
    title = nearest.title if _same_title(nearest.title, own.title) else own.title
    return MediaInfo(kind="movie", title=title, year=None)


# ---------------------------------------------------------------------------------------------
# Media-server names (each a safe component)


def movie_name(info: MediaInfo) -> str:
    """ "Title (Year)", or "Title" without a year: the folder and the file stem of a movie."""
    name = f"{info.title} ({info.year})" if info.year else info.title
    return safe_component(name, keep_extension=False)


def show_folder(info: MediaInfo) -> str:
    """ "Show (Year)" or "Show"."""
    return movie_name(info)


def season_folder(season: int) -> str:
    """ "Season 01"; specials are "Season 00" (Jellyfin wants "Season N", not "S01")."""
    return f"Season {season:02d}"


def episode_name(info: MediaInfo) -> str:
    """ "Show (Year) - S01E02"; a multi-episode file is named by its first and last episode,
    "S01E01-E02" or "S01E01-E03", the range form Jellyfin, Plex and Kodi all read (a gap such
    as episodes 1 and 3 also reads as 1-3; the episode NFO lists the exact episodes)."""
    if info.season is None or not info.episodes:
        raise ValueError(f"{info!r} has no season and episode to name")
    first, last = min(info.episodes), max(info.episodes)
    code = f"S{info.season:02d}E{first:02d}" + (f"-E{last:02d}" if last != first else "")
    return safe_component(f"{show_folder(info)} - {code}", keep_extension=False)
