"""The library planner: which files a library folder should hold, as a pure function of the
put.io tree and the library's settings.

The plan maps each relative path to an ``Entry``; the writer compares it with the disk and
makes the difference. Planning is deterministic: the same tree gives the same plan whatever
order the listing came in, so a re-sync never renames files back and forth.

Naming rules a reviewer may look for here:

* Collisions are decided on casefolded paths (a Jellyfin library on SMB or NTFS would merge
  "Movie.strm" and "movie.strm"). Videos claim names in ascending put.io id; the lowest id keeps
  the wanted name, a later one gets " [putio-<id>]" before its suffixes, and its .nfo/.srt keep
  the same stem. Folders differing only in case are merged under the spelling of the first
  (lowest id) video that used them.
* A folder component never ends in .strm/.nfo/.srt (a "_" is added) and every file does, so a
  file and a folder can never claim the same path.
* Orphans (files whose ancestor is missing from the listing, or in a parent cycle) have no known
  path and are left out.
* Folders nested deeper than ``MAX_FOLDER_BYTES`` of path would exceed PATH_MAX (4096 on Linux,
  with the library root in front); their videos are flattened into ``_unsorted/``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from putbridge.config import LibrarySettings
from putbridge.library.naming import (
    MAX_COMPONENT_BYTES,
    MediaInfo,
    clip_utf8,
    episode_name,
    inside_root,
    movie_name,
    parse_media,
    safe_component,
    season_folder,
    show_folder,
)
from putbridge.library.nfo import episode_nfo, movie_nfo, tvshow_nfo
from putbridge.library.tree import ROOT_ID, PutioTree
from putbridge.putio.models import VIDEO_EXTENSIONS, File

STRM = "strm"
NFO = "nfo"
SRT = "srt"
UNSORTED = "_unsorted"
MAX_FOLDER_BYTES = 3072
_OUTPUT_SUFFIXES = (".strm", ".nfo", ".srt")
_PARENT_NAMES = 3  # folder names handed to parse_media (the show and season, or the release)
_CHECK_ROOT = Path("/library")
_WORD_BREAK = re.compile(r"[\W_]+")
_LANGUAGE_JUNK = re.compile(r"[^0-9A-Za-z-]+")


@dataclass(frozen=True, slots=True)
class Entry:
    path: str  # relative POSIX path inside the library root, every component safe
    kind: str  # "strm" | "nfo" | "srt"
    file_id: int  # the put.io video it comes from; tvshow.nfo: the show's lowest video id
    content: str | None  # the text of a strm or nfo; None for srt (fetched at write time)
    language: str | None = None  # srt only: the language code asked of put.io, e.g. "en"


class _Where(NamedTuple):
    """What the planner knows about a folder on the way down from the library source."""

    dirs: tuple[str, ...] | None  # safe mirror folders below the source; None: too deep
    nbytes: int  # UTF-8 length of "/".join(dirs)
    tail: tuple[str, ...]  # the nearest raw folder names, for parse_media
    skipped: bool  # inside a skip folder


class _Wanted(NamedTuple):
    """Where one video would like to go, before collisions are settled."""

    file: File
    dirs: tuple[str, ...]
    stem: str
    nfo: str | None
    show_nfo: str | None  # tvshow.nfo text for the show folder (dirs[0])


def plan_library(
    tree: PutioTree,
    library: LibrarySettings,
    *,
    strm_text: Callable[[File], str],
    under: int | None = None,
    parse: Callable[[str, Sequence[str]], MediaInfo | None] = parse_media,
) -> dict[str, Entry]:
    """Every entry the library folder should hold, keyed by relative path.

    Only videos under ``library.source`` (a put.io path; an unknown source gives an empty plan)
    and, with ``under``, only those under that folder id or that one file. ``parse`` names
    videos (the sync passes one backed by a persistent cache; guessit costs milliseconds).
    """
    source_id = tree.resolve(library.source)
    if source_id is None:
        return {}
    skip = frozenset(_fold(name) for name in library.skip_folders)
    start = _start(tree, source_id, under, skip)
    if start is None:
        return {}
    skip_samples = "sample" in skip
    wanted = []
    for video, where in _videos(tree, *start, skip):
        if skip_samples and _is_sample(_stem(video)):
            continue
        wanted.append(_want(video, where, library, parse))
    wanted.sort(key=lambda item: item.file.id)
    return _assign(wanted, _languages(library.subtitles), strm_text)


def _fold(name: str) -> str:
    return unicodedata.normalize("NFC", name).strip().casefold()


def _step(where: _Where, folder: File, skip: frozenset[str]) -> _Where:
    skipped = where.skipped or _fold(folder.name) in skip
    tail = (*where.tail, folder.name)[-_PARENT_NAMES:]
    if where.dirs is None:
        return _Where(None, where.nbytes, tail, skipped)
    component = _folder_component(folder.name)
    nbytes = where.nbytes + len(component.encode()) + (1 if where.dirs else 0)
    if nbytes > MAX_FOLDER_BYTES:
        return _Where(None, nbytes, tail, skipped)
    return _Where((*where.dirs, component), nbytes, tail, skipped)


def _start(
    tree: PutioTree, source_id: int, under: int | None, skip: frozenset[str]
) -> tuple[File | int, _Where] | None:
    """Where the walk begins (a folder id, or a single file) and what is known there."""
    top = _Where((), 0, tree.parts(source_id)[-_PARENT_NAMES:], False)
    if under is None or under == source_id:
        return source_id, top
    try:
        source_chain = tree.ancestors(source_id)
        under_chain = tree.ancestors(under)
    except KeyError:
        return None  # unknown or orphaned: nothing to plan
    if under == ROOT_ID or under in source_chain:
        return source_id, top  # under is above the source: the whole library
    if source_id != ROOT_ID and source_id not in under_chain:
        return None  # outside the library
    below = under_chain[under_chain.index(source_id) + 1 :] if source_id != ROOT_ID else under_chain
    target = tree.get(under)
    if target is None:
        return None
    where = top
    for folder in [*(tree.get(folder_id) for folder_id in below), target]:
        if folder is not None and folder.is_folder:
            where = _step(where, folder, skip)
    if where.skipped:
        return None
    return (target.id, where) if target.is_folder else (target, where)


def _videos(
    tree: PutioTree, start: File | int, where: _Where, skip: frozenset[str]
) -> Iterable[tuple[File, _Where]]:
    if isinstance(start, File):
        if start.is_video:
            yield start, where
        return
    stack = [(start, where)]
    seen = {start}
    while stack:
        folder_id, here = stack.pop()
        for item in tree.children(folder_id):
            if item.is_folder:
                inner = _step(here, item, skip)
                if not inner.skipped and item.id not in seen:
                    seen.add(item.id)
                    stack.append((item.id, inner))
            elif item.is_video:
                yield item, here


def _stem(video: File) -> str:
    """The name without its extension (only a real one: "Movie.2010.1080p" keeps "1080p")."""
    ext = video.suffix
    name = video.name
    if ext and (video.extension or ext in VIDEO_EXTENSIONS) and len(name) > len(ext) + 1:
        if name[-len(ext) - 1 :].casefold() == "." + ext:
            return name[: -len(ext) - 1]
    return name


def _is_sample(stem: str) -> bool:
    # "movie.sample", "sample-movie", "grp-movie-SAMPLE": a "sample" word anywhere in the name,
    # which is how guessit spots one too, checked without guessit so mirror stays fast.
    return "sample" in _WORD_BREAK.split(stem.casefold())


def _folder_component(name: str) -> str:
    component = safe_component(name, keep_extension=False)
    if component.casefold().endswith(_OUTPUT_SUFFIXES):
        component = clip_utf8(component, MAX_COMPONENT_BYTES - 1) + "_"
    return component


def _unsorted(where: _Where) -> tuple[str, ...]:
    if where.dirs is None or where.nbytes + len(UNSORTED) + 1 > MAX_FOLDER_BYTES:
        return (UNSORTED,)
    return (UNSORTED, *where.dirs)


def _want(
    video: File,
    where: _Where,
    library: LibrarySettings,
    parse: Callable[[str, Sequence[str]], MediaInfo | None],
) -> _Wanted:
    stem = safe_component(_stem(video), keep_extension=False)
    if library.layout == "mirror":
        return _Wanted(
            video, where.dirs if where.dirs is not None else (UNSORTED,), stem, None, None
        )
    info = parse(video.name, where.tail)
    if library.layout == "movies" and info is not None and info.kind == "movie":
        name = movie_name(info)
        nfo = movie_nfo(info.title, info.year) if library.nfo else None
        return _Wanted(video, (_folder_component(name),), name, nfo, None)
    if library.layout == "shows" and info is not None and info.kind == "episode":
        return _want_episode(video, info, library.nfo)
    return _Wanted(video, _unsorted(where), stem, None, None)


def _want_episode(video: File, info: MediaInfo, with_nfo: bool) -> _Wanted:
    assert info.season is not None
    dirs = (_folder_component(show_folder(info)), season_folder(info.season))
    if not with_nfo:
        return _Wanted(video, dirs, episode_name(info), None, None)
    nfo = episode_nfo(info.title, info.season, info.episodes, info.episode_title)
    return _Wanted(video, dirs, episode_name(info), nfo, tvshow_nfo(info.title, info.year))


def _languages(codes: Iterable[str]) -> list[tuple[str, str]]:
    """(code as asked of put.io, code as written in the file name), once per casefolded name."""
    seen: set[str] = set()
    languages = []
    for code in codes:
        token = _LANGUAGE_JUNK.sub("_", code.strip()).strip("_")[:32]
        if token and token.casefold() not in seen:
            seen.add(token.casefold())
            languages.append((code.strip(), token))
    return languages


def _assign(
    wanted: list[_Wanted],
    languages: list[tuple[str, str]],
    strm_text: Callable[[File], str],
) -> dict[str, Entry]:
    plan: dict[str, Entry] = {}
    taken: set[str] = set()  # casefolded file paths
    spelling: dict[str, str] = {}  # casefolded folder path -> the folder name first used there
    shows: set[str] = set()
    for item in wanted:
        dirs = _canonical(item.dirs, spelling)
        suffixes = [(".strm", STRM, None)]
        if item.nfo is not None:
            suffixes.append((".nfo", NFO, None))
        suffixes += [(f".{token}.srt", SRT, code) for code, token in languages]
        room = MAX_COMPONENT_BYTES - max(len(suffix.encode()) for suffix, _, _ in suffixes)
        prefix = "".join(f"{d}/" for d in dirs)
        attempt = 0
        while True:
            stem = _tagged(item.stem, item.file.id, attempt, room)
            paths = [prefix + stem + suffix for suffix, _, _ in suffixes]
            if not any(path.casefold() in taken for path in paths):
                break
            attempt += 1
        for path, (_, kind, code) in zip(paths, suffixes, strict=True):
            taken.add(path.casefold())
            content = strm_text(item.file) if kind == STRM else item.nfo if kind == NFO else None
            plan[_checked(path)] = Entry(path, kind, item.file.id, content, code)
        if item.show_nfo is not None and dirs[0].casefold() not in shows:
            shows.add(dirs[0].casefold())
            path = f"{dirs[0]}/tvshow.nfo"
            if path.casefold() not in taken:
                taken.add(path.casefold())
                plan[_checked(path)] = Entry(path, NFO, item.file.id, item.show_nfo)
    return plan


def _canonical(dirs: tuple[str, ...], spelling: dict[str, str]) -> tuple[str, ...]:
    key = ""
    canonical = []
    for component in dirs:
        key = f"{key}/{component.casefold()}"
        canonical.append(spelling.setdefault(key, component))
    return tuple(canonical)


def _tagged(stem: str, file_id: int, attempt: int, room: int) -> str:
    """The stem for a claim attempt: as wanted, then " [putio-<id>]", then " [putio-<id>-<n>]"
    (only if a put.io name itself looks like an earlier tag), cut to fit beside the suffixes."""
    if attempt == 0:
        return clip_utf8(stem, room)
    tag = f" [putio-{file_id}]" if attempt == 1 else f" [putio-{file_id}-{attempt}]"
    return clip_utf8(stem, room - len(tag)) + tag


def _checked(path: str) -> str:
    """Defence in depth: a planned path is made of safe components and stays in the root."""
    for component in path.split("/"):
        if safe_component(component) != component:
            raise AssertionError(f"planned an unsafe path component {component!r} in {path!r}")
    inside_root(_CHECK_ROOT, path)
    return path
