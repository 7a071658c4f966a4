"""Safe local names, media parsing and NFO text (putbridge.library.naming, .nfo)."""

from __future__ import annotations

import random
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from putbridge.library.naming import (
    MediaInfo,
    clip_utf8,
    episode_name,
    inside_root,
    movie_name,
    parse_media,
    safe_component,
    safe_relpath,
    season_folder,
    show_folder,
)
from putbridge.library.nfo import episode_nfo, movie_nfo, tvshow_nfo, xml_text
from tests.hostile_names import HOSTILE_NAMES

# Stated again here rather than imported, so a slip in the module's own list shows up.
RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{dev}{n}" for dev in ("COM", "LPT") for n in [*"0123456789", "¹", "²", "³"]
}
INVISIBLE_CONTROLS = {"\u2028", "\u2029", "\u202e", "\u202d", "\u2066", "\u2069", "\ufeff"}


def _ids(names):
    return [f"{i}:{name[:20]!r}" for i, name in enumerate(names)]


# -- safe_component over the hostile corpus ----------------------------------------------------


def test_the_corpus_is_big_enough():
    assert len(HOSTILE_NAMES) >= 100


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=_ids(HOSTILE_NAMES))
def test_safe_component_makes_every_hostile_name_harmless(name):
    safe = safe_component(name)
    encoded = safe.encode("utf-8")  # strict: no lone surrogates survive
    assert 0 < len(encoded) <= 255
    assert encoded.decode("utf-8") == safe
    assert safe not in (".", "..")
    assert "/" not in safe and "\\" not in safe and "\x00" not in safe
    assert not any(unicodedata.category(c) == "Cc" for c in safe)
    assert not INVISIBLE_CONTROLS & set(safe)
    assert not set('<>:"|?*') & set(safe)
    assert safe == safe.strip() and not safe.endswith(".") and not safe.startswith(".")
    assert safe.split(".", 1)[0].rstrip(" ").upper() not in RESERVED
    assert unicodedata.is_normalized("NFC", safe)
    assert safe_component(safe) == safe  # idempotent
    assert safe_component(safe, keep_extension=False) == safe


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=_ids(HOSTILE_NAMES))
def test_safe_component_keeps_a_short_extension(name):
    for ext in (".mkv", ".strm", ".gz"):
        if name.endswith(ext):
            safe = safe_component(name)
            assert safe.endswith(ext) or safe == ext[1:], safe


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("..", "_"),
        (".", "_"),
        ("", "_"),
        ("   ", "_"),
        ("a/../../etc/passwd", "a-..-..-etc-passwd"),
        ("..\\..\\x", "-..-x"),
        ("Movie: The Sequel (2010).mkv", "Movie - The Sequel (2010).mkv"),
        ("12:30.mkv", "12-30.mkv"),
        ("What If?.mkv", "What If.mkv"),
        ('The "Quoted" One.mkv', "The 'Quoted' One.mkv"),
        ("con.mkv", "con_.mkv"),
        ("CON", "CON_"),
        ("LPT1.mkv", "LPT1_.mkv"),
        ("aux.strm", "aux_.strm"),
        ("CON.tar.gz", "CON_.tar.gz"),
        ("console.mkv", "console.mkv"),
        ("trailing dots...", "trailing dots"),
        (" leading space.mkv", "leading space.mkv"),
        (".hidden.mkv", "hidden.mkv"),
        ("line one\nline two.mkv", "line one line two.mkv"),
        ("movie\x00.mkv", "movie_.mkv"),
        ("evil\u202egpj.mkv", "evilgpj.mkv"),
        ("lone \ud800 surrogate.mkv", "lone _ surrogate.mkv"),
        ("pair \ud83d\ude00 halves.mkv", "pair \U0001f600 halves.mkv"),
    ],
)
def test_safe_component_examples(name, expected):
    assert safe_component(name) == expected


def test_nfd_and_nfc_spellings_give_one_name():
    nfc = unicodedata.normalize("NFC", "Café Society (2016).mkv")
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    assert safe_component(nfd) == safe_component(nfc) == nfc


def test_a_long_strm_name_keeps_its_extension_within_255_bytes():
    safe = safe_component("x" * 400 + ".strm")
    assert safe.endswith(".strm") and len(safe.encode()) == 255


def test_truncation_counts_bytes_and_never_splits_a_character():
    for name in ["漢" * 300 + ".mkv", "😀" * 300 + ".mkv", "é" * 300 + ".mkv"]:
        safe = safe_component(name)
        assert len(safe.encode()) <= 255 and safe.endswith(".mkv")
        assert set(safe[:-4]) == {name[0]}


def test_truncation_keeps_combining_sequences_whole():
    # "q" + acute has no precomposed form: a cut between them would leave a bare "q".
    safe = safe_component("q\u0301" * 200 + ".mkv")
    assert safe.endswith("q\u0301.mkv")
    emoji = safe_component("\U0001f469\U0001f3fd\u200d\U0001f4bb" * 40 + ".mkv")
    assert emoji.endswith("\U0001f4bb.mkv")
    assert clip_utf8("xa\u0301\u0301b", 5) == "x"  # a cut inside the marks drops their base


def test_folders_are_cut_without_keeping_an_extension():
    name = "Show.Name." + "x" * 300 + ".S01"
    assert safe_component(name, keep_extension=False) == name[:255]
    assert safe_component(name).endswith(".S01")


def test_safe_component_is_idempotent_on_random_strings():
    rng = random.Random(1234)
    alphabet = (
        "aZ09 ._-:/\\<>|?*\"'\x00\x01\x1f\x7f\x85\u0301\u200d\u202e\u2028\ufeff\ufffe"
        "漢😀é\U0001f3fd\ud800\udc00"
    )
    for _ in range(2000):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
        safe = safe_component(name)
        assert safe_component(safe) == safe
        assert 0 < len(safe.encode()) <= 255


def test_safe_relpath_joins_safe_components():
    assert safe_relpath(["..", "a/b", "con.mkv"]) == "_/a-b/con_.mkv"
    assert safe_relpath(["Movies", "x" * 300 + ".strm"]).endswith(".strm")
    with pytest.raises(ValueError):
        safe_relpath([])


# -- inside_root -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "relpath",
    ["", ".", "..", "../x", "a/../../x", "a/../b", "./x", "a/./b", "/etc/passwd", "a\x00b",
     "a\\..\\b", "x/.."],
)  # fmt: skip
def test_inside_root_refuses_paths_that_leave_or_hit_the_root(relpath):
    with pytest.raises(ValueError):
        inside_root(Path("/library"), relpath)


def test_inside_root_accepts_plain_relative_paths(tmp_path):
    assert inside_root(tmp_path, "a/b.strm") == tmp_path / "a" / "b.strm"
    assert inside_root(Path("/"), "x.strm") == Path("/x.strm")
    assert inside_root(Path("lib/"), "a//b.strm") == Path("lib/a/b.strm")


def test_inside_root_compares_whole_components():
    # "/library-evil" starts with "/library" as text but is not inside it.
    with pytest.raises(ValueError):
        inside_root(Path("/library"), "../library-evil/x")


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=_ids(HOSTILE_NAMES))
def test_every_safe_name_stays_inside_the_root(name):
    root = Path("/library")
    target = inside_root(root, safe_relpath([name, name]))
    assert target.parent.parent == root


# -- parse_media -------------------------------------------------------------------------------

EPISODE, MOVIE = "episode", "movie"


@pytest.mark.parametrize(
    ("name", "parents", "expected"),
    [
        ("The.Matrix.1999.1080p.BluRay.x264-GRP.mkv", [], (MOVIE, "The Matrix", 1999, None, ())),
        ("Blade.Runner.2049.2017.1080p.mkv", [], (MOVIE, "Blade Runner 2049", 2017, None, ())),
        ("Alien.Directors.Cut.1979.1080p.mkv", [], (MOVIE, "Alien", 1979, None, ())),
        ("movie.mkv", ["Movies", "Movie (1999)"], (MOVIE, "Movie", 1999, None, ())),
        ("the.matrix.1999.720p.mkv", ["The Matrix (1999)"], (MOVIE, "The Matrix", 1999, None, ())),
        ("grp-m1080p.mkv", ["Heat.1995.1080p.BluRay-GRP"], (MOVIE, "Heat", 1995, None, ())),
        ("Film Nr 1 (1951).mkv", ["Film Nr 1 (1951)"], (MOVIE, "Film Nr 1", 1951, None, ())),
        ("Some.Movie.mkv", [], (MOVIE, "Some Movie", None, None, ())),
        ("Show.S01E02.720p.WEB.mkv", [], (EPISODE, "Show", None, 1, (2,))),
        ("Show.Name.S02E05.The.Title.720p.mkv", [], (EPISODE, "Show Name", None, 2, (5,))),
        ("Doctor.Who.2005.S01E01.Rose.mkv", [], (EPISODE, "Doctor Who", 2005, 1, (1,))),
        ("Breaking Bad - 1x02 - Cat's in the Bag.avi", [],
         (EPISODE, "Breaking Bad", None, 1, (2,))),
        ("Show.S01E01E02.720p.mkv", [], (EPISODE, "Show", None, 1, (1, 2))),
        ("Show.S01E01-E02.mkv", [], (EPISODE, "Show", None, 1, (1, 2))),
        ("Show.S01E01-E03.mkv", [], (EPISODE, "Show", None, 1, (1, 2, 3))),
        ("Show.S00E01.mkv", [], (EPISODE, "Show", None, 0, (1,))),
        ("02x05.mkv", ["Show Name (2010)", "Season 2"], (EPISODE, "Show Name", 2010, 2, (5,))),
        ("02x05.mkv", ["Show", "Season 2"], (EPISODE, "Show", None, 2, (5,))),
        ("Show.S01E01.mkv", ["Show.S01.1080p.WEB"], (EPISODE, "Show", None, 1, (1,))),
        ("Episode 5.mkv", ["Some Show", "Season 1"], (EPISODE, "Some Show", None, 1, (5,))),
        ("E05.mkv", ["Show", "S01"], (EPISODE, "Show", None, 1, (5,))),
        ("01.mkv", ["Show (2010)", "Specials"], (EPISODE, "Show", 2010, 0, (1,))),
        ("Show.S02E03.mkv", ["TV", "Show (2010)", "Season 02"], (EPISODE, "Show", 2010, 2, (3,))),
        # The show folder names the series even when the file spells it differently.
        ("Marvels.Agents.of.S.H.I.E.L.D.S01E01.mkv", ["Marvel's Agents (2013)", "Season 1"],
         (EPISODE, "Marvel's Agents", 2013, 1, (1,))),
        # Absolute numbering: placed only when a season folder says where.
        ("[Grp] Anime Title - 12 [1080p].mkv", ["Anime Title", "Season 1"],
         (EPISODE, "Anime Title", None, 1, (12,))),
    ],
)  # fmt: skip
def test_parse_media_places_real_world_names(name, parents, expected):
    info = parse_media(name, parents)
    assert info is not None
    assert (info.kind, info.title, info.year, info.season, info.episodes) == expected


@pytest.mark.parametrize(
    ("name", "parents"),
    [
        ("", []),
        ("....mkv", []),
        ("1080p.x264-GRP.mkv", []),
        ("[Grp] Anime Title - 12 [1080p].mkv", []),  # absolute number, no season anywhere
        ("The.Daily.Show.2020.01.15.720p.mkv", []),  # date-based: no season/episode scheme
        ("Show.S01-S02.mkv", []),  # several seasons in one file
        ("02x05.mkv", ["Downloads"]),  # no title anywhere
        ("Show.S01.1080p.mkv", []),  # a season without an episode number
    ],
)
def test_parse_media_returns_none_when_it_cannot_place(name, parents):
    assert parse_media(name, parents) is None


def test_parse_media_episode_title_and_cache():
    info = parse_media("Show.Name.S02E05.The.Title.720p.mkv", ("Shows",))
    assert info is not None and info.episode_title == "The Title"
    assert parse_media("Show.Name.S02E05.The.Title.720p.mkv", ["Shows"]) is info


def test_season_pack_numbers_come_from_each_name():
    # One guessit read serves the pack; the numbers must still be each file's own.
    infos = [parse_media(f"Pack.Show.S03E{n:02d}.720p.WEB.mkv", ()) for n in range(1, 25)]
    assert [(i.season, i.episodes) for i in infos] == [(3, (n,)) for n in range(1, 25)]
    assert {i.title for i in infos} == {"Pack Show"}


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=_ids(HOSTILE_NAMES))
def test_parse_media_survives_hostile_names(name):
    info = parse_media(name, [name, "\ud800", ""])
    assert info is None or (info.title and info.kind in (MOVIE, EPISODE))


# -- media-server names ------------------------------------------------------------------------


def test_media_server_names():
    movie = MediaInfo(kind=MOVIE, title="Heat", year=1995)
    assert movie_name(movie) == "Heat (1995)"
    assert movie_name(MediaInfo(kind=MOVIE, title="Heat")) == "Heat"
    show = MediaInfo(kind=EPISODE, title="Show", year=2010, season=1, episodes=(2,))
    assert show_folder(show) == "Show (2010)"
    assert season_folder(1) == "Season 01" and season_folder(0) == "Season 00"
    assert season_folder(123) == "Season 123"
    assert episode_name(show) == "Show (2010) - S01E02"
    two = MediaInfo(kind=EPISODE, title="Show", season=1, episodes=(1, 2))
    assert episode_name(two) == "Show - S01E01-E02"
    gap = MediaInfo(kind=EPISODE, title="Show", season=1, episodes=(1, 3))
    assert episode_name(gap) == "Show - S01E01-E03"
    assert episode_name(MediaInfo(kind=EPISODE, title="S", season=2, episodes=(100,))) == (
        "S - S02E100"
    )


def test_media_server_names_are_safe_components():
    hostile = MediaInfo(kind=EPISODE, title="../AC/DC: Live?", year=None, season=1, episodes=(1,))
    for name in (movie_name(hostile), show_folder(hostile), episode_name(hostile)):
        assert safe_component(name) == name and "/" not in name
    with pytest.raises(ValueError):
        episode_name(MediaInfo(kind=MOVIE, title="Heat"))


# -- NFO ---------------------------------------------------------------------------------------

NASTY_TITLE = "Tom & Jerry <\"Live\"> 'Special' ]]> \x00\x08\x0b\x0c\x1f\ud800\ufffe\uffff end"


def _parse(text: str) -> ET.Element:
    assert text.startswith('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>')
    return ET.fromstring(text.encode("utf-8"))


def test_movie_nfo_escapes_and_round_trips():
    root = _parse(movie_nfo(NASTY_TITLE, 1999))
    assert root.tag == "movie"
    assert root.findtext("title") == xml_text(NASTY_TITLE)
    assert root.findtext("title") == "Tom & Jerry <\"Live\"> 'Special' ]]>  end"
    assert root.findtext("year") == "1999"


def test_movie_and_show_nfo_leave_out_an_unknown_year():
    assert _parse(movie_nfo("Heat", None)).find("year") is None
    root = _parse(tvshow_nfo(NASTY_TITLE, 2010))
    assert root.tag == "tvshow"
    assert root.findtext("title") == xml_text(NASTY_TITLE) and root.findtext("year") == "2010"


def test_episode_nfo_single():
    root = _parse(episode_nfo("Show & Co", 1, [2], "Pilot <1>"))
    assert root.tag == "episodedetails"
    assert root.findtext("title") == "Pilot <1>"
    assert root.findtext("showtitle") == "Show & Co"
    assert (root.findtext("season"), root.findtext("episode")) == ("1", "2")


def test_episode_nfo_stacks_one_block_per_episode():
    text = episode_nfo(NASTY_TITLE, 3, [5, 4], NASTY_TITLE)
    body = text.split("?>", 1)[1]
    blocks = ET.fromstring(f"<wrap>{body}</wrap>").findall("episodedetails")
    assert [b.findtext("episode") for b in blocks] == ["4", "5"]
    assert all(b.findtext("season") == "3" for b in blocks)
    assert all(b.findtext("title") == xml_text(NASTY_TITLE) for b in blocks)


def test_episode_nfo_without_a_title_names_the_episode_by_number():
    # Kodi requires <title>; most release names carry no episode title.
    root = _parse(episode_nfo("Show", 1, [2], None))
    assert root.findtext("title") == "Episode 2"
    with pytest.raises(ValueError):
        episode_nfo("Show", 1, [], None)


def test_xml_text_turns_line_breaks_into_spaces():
    assert xml_text("a\r\nb\tc\u2028d") == "a b c d"


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=_ids(HOSTILE_NAMES))
def test_every_hostile_title_makes_a_parseable_nfo(name):
    assert _parse(movie_nfo(name, 2000)).findtext("title", "") == xml_text(name)
