"""Naming at scale: the scene-name fast path agrees with guessit, and parses are remembered."""

from __future__ import annotations

import pytest

from putbridge.library import parsecache
from putbridge.library.naming import MediaInfo, _guess, parse_media, scene_movie
from putbridge.library.parsecache import ParseCache
from putbridge.store import Store

SCENE_NAMES = [
    "Heat.1995.1080p.BluRay.x264-GRP.mkv",
    "Sintel.2010.720p.mkv",
    "2001.A.Space.Odyssey.1968.1080p.BluRay.mkv",
    "Blade.Runner.2049.2017.2160p.UHD.mkv",
    "The Matrix (1999).mkv",
    "Movie Title 2005 720p WEB-DL.mp4",
    "1917.2019.1080p.WEB.mkv",
    "Mad.Max.Fury.Road.2015.1080p.BluRay.mkv",
    "Ocean's.Eleven.2001.720p.mkv",
    "Tears.of.Steel.2012.2160p.mkv",
    "Doc.1995.mkv",
]


@pytest.mark.parametrize("name", SCENE_NAMES)
def test_fast_path_reads_scene_names_as_guessit_does(name):
    fast = scene_movie(name)
    slow = _guess(name)
    assert fast is not None and not slow.is_episode
    assert (fast.title, fast.year) == (slow.title, slow.year)


@pytest.mark.parametrize(
    "name",
    [
        "Show.S01E01.2019.720p.mkv",
        "Some.Show.2019.E01.mkv",
        "Mr.Robot.2015.Season.1.mkv",
        "Show.1x02.2010.mkv",
        "Movie.mkv",
        "2019.mkv",
        "Movies.2010.mkv",
        "Film.2010.Directors.Cut.Extended.mkv",
        "Alien.Directors.Cut.1979.1080p.mkv",
        "Amelie.French.2001.720p.mkv",
    ],
)
def test_fast_path_leaves_anything_else_to_guessit(name):
    assert scene_movie(name) is None


def test_parses_are_remembered_across_runs(tmp_path):
    calls = []

    def counting(name, parents):
        calls.append(name)
        return parse_media(name, parents)

    with Store(tmp_path / "p.db") as store:
        first = ParseCache(store, counting)
        a = first("Show.Name.S01E02.720p.mkv", ("TV", "Show Name", "Season 01"))
        b = first("garbage", ())
        first.save()
        assert calls == ["Show.Name.S01E02.720p.mkv", "garbage"]
        second = ParseCache(store, counting)
        assert second("Show.Name.S01E02.720p.mkv", ("TV", "Show Name", "Season 01")) == a
        assert second("garbage", ()) == b
        assert len(calls) == 2 and second.hits == 2 and second.misses == 0
        assert isinstance(a, MediaInfo) and a.episodes == (2,)


def test_a_new_parser_version_starts_afresh(tmp_path, monkeypatch):
    with Store(tmp_path / "p.db") as store:
        cache = ParseCache(store, lambda n, p: None)
        cache("a.mkv", ())
        cache.save()
        monkeypatch.setattr(parsecache, "PARSER_VERSION", parsecache.PARSER_VERSION + 1)
        seen = []
        newer = ParseCache(store, lambda n, p: seen.append(n))
        newer("a.mkv", ())
        newer.save()
        assert seen == ["a.mkv"]
        assert store.query("SELECT count(*) FROM media_parse")[0][0] == 1  # old rows dropped
