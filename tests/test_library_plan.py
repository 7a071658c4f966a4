"""The put.io tree and the pure library planner (putbridge.library.tree, .plan)."""

from __future__ import annotations

import random
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from putbridge.config import LibrarySettings
from putbridge.library.naming import inside_root, safe_component
from putbridge.library.plan import Entry, plan_library
from putbridge.library.tree import PutioTree
from putbridge.putio.models import File
from tests.hostile_names import DEEP_CHAIN, HOSTILE_NAMES


def folder(file_id: int, name: str, parent: int | None = 0) -> File:
    return File(id=file_id, name=name, file_type="FOLDER", parent_id=parent)


def video(file_id: int, name: str, parent: int | None = 0, file_type: str = "VIDEO") -> File:
    _, dot, ext = name.rpartition(".")
    return File(
        id=file_id, name=name, file_type=file_type, parent_id=parent, extension=ext if dot else None
    )


def strm_text(file: File) -> str:
    return f"http://bridge.test/strm/{file.id}"


def plan(files, layout="mirror", source="/", under=None, **options) -> dict[str, Entry]:
    library = LibrarySettings(path="/library", source=source, layout=layout, **options)
    return plan_library(PutioTree(files), library, strm_text=strm_text, under=under)


def strm_paths(result: dict[str, Entry]) -> dict[int, str]:
    return {e.file_id: p for p, e in result.items() if e.kind == "strm"}


ACCOUNT = [
    folder(1, "Movies"),
    folder(2, "TV"),
    folder(3, "The Matrix (1999)", 1),
    video(4, "The.Matrix.1999.1080p.BluRay.x264-GRP.mkv", 3),
    video(5, "Inception.2010.720p.mkv", 1),
    folder(6, "Show Name (2010)", 2),
    folder(7, "Season 2", 6),
    video(8, "02x05.mkv", 7),
    video(9, "Show.Name.S02E06.mkv", 7),
    folder(10, "Sample", 3),
    video(11, "sample.mkv", 10),
    video(12, "inception.2010.sample.mkv", 1),
    folder(13, "Other.Show.S01.1080p.WEB", 2),
    video(14, "Other.Show.S01E01E02.1080p.WEB.mkv", 13),
    File(id=15, name="notes.txt", file_type="TEXT", parent_id=13, extension="txt"),
    video(16, "Heat.1995.avi", 1, file_type="FILE"),
    File(id=17, name="song.mp3", file_type="AUDIO", parent_id=1, extension="mp3"),
    folder(18, "Extras", 3),
    video(19, "Behind the scenes.mkv", 18),
    video(20, "sample-heat.mkv", 1),
]


# -- PutioTree ---------------------------------------------------------------------------------


def test_tree_lookups():
    tree = PutioTree(ACCOUNT)
    assert len(tree) == len(ACCOUNT)
    assert tree.get(4).name.startswith("The.Matrix")
    assert tree.get(0) is None and tree.get(99) is None
    assert [f.id for f in tree.children(0)] == [1, 2]
    assert [f.id for f in tree.children(7)] == [8, 9]
    assert tree.children(99) == []
    assert tree.parts(8) == ("TV", "Show Name (2010)", "Season 2", "02x05.mkv")
    assert tree.parts(0) == ()
    assert tree.ancestors(8) == (2, 6, 7)
    with pytest.raises(KeyError):
        tree.parts(99)


def test_tree_children_is_a_copy():
    tree = PutioTree(ACCOUNT)
    tree.children(0).clear()
    assert [f.id for f in tree.children(0)] == [1, 2]


def test_tree_resolve():
    tree = PutioTree(ACCOUNT)
    assert tree.resolve("/") == 0 and tree.resolve("") == 0
    assert tree.resolve("/Movies") == 1 and tree.resolve("Movies/") == 1
    assert tree.resolve("/TV/Show Name (2010)/Season 2") == 7
    assert tree.resolve("/Movies/The Matrix (1999)/The.Matrix.1999.1080p.BluRay.x264-GRP.mkv") == 4
    assert tree.resolve("/movies") is None  # names match exactly
    assert tree.resolve("/Nope/Movies") is None


def test_tree_resolve_takes_the_lowest_id_of_duplicates_and_prefers_folders():
    files = [folder(30, "Dup"), folder(20, "Dup"), video(10, "Dup"), folder(40, "x", 30)]
    tree = PutioTree(reversed(files))
    assert tree.resolve("/Dup") == 20
    assert tree.resolve("/Dup/x") is None  # x lives in the other "Dup"
    assert PutioTree([video(10, "Only.mkv")]).resolve("/Only.mkv") == 10


def test_tree_walk_is_depth_first_by_id():
    tree = PutioTree(random.Random(5).sample(ACCOUNT, len(ACCOUNT)))
    order = [f.id for f in tree.walk(0)]
    assert order[:6] == [1, 3, 4, 10, 11, 18]
    assert sorted(order) == sorted(f.id for f in ACCOUNT)
    assert [f.id for f in tree.walk(6)] == [7, 8, 9]
    assert list(tree.walk(4)) == []  # a file has no descendants


def test_tree_handles_parent_none_and_ignores_a_listed_root():
    tree = PutioTree([folder(0, "root?"), video(1, "a.mkv", None), video(2, "b.mkv", 0)])
    assert len(tree) == 2 and [f.id for f in tree.children(0)] == [1, 2]
    assert tree.parts(1) == ("a.mkv",)


def test_tree_with_a_parent_cycle_does_not_hang():
    files = [
        folder(1, "A", 2),
        folder(2, "B", 1),
        folder(3, "Self", 3),
        video(4, "in-cycle.mkv", 1),
        video(5, "in-self.mkv", 3),
        video(6, "fine.mkv", 0),
        video(7, "lost.mkv", 999),  # its parent is not in the listing
    ]
    tree = PutioTree(files)
    for orphan in (1, 2, 3, 4, 5, 7):
        assert not tree.is_rooted(orphan)
        with pytest.raises(KeyError):
            tree.parts(orphan)
    assert sorted(f.id for f in tree.walk(1)) == [2, 4]  # ends despite the cycle, 1 not again
    assert [f.id for f in tree.walk(0)] == [6]
    assert tree.parts(6) == ("fine.mkv",)
    for layout in ("mirror", "movies", "shows"):
        result = plan(files, layout)
        assert set(strm_paths(result)) == {6}  # orphans have no path and are left out
        assert plan(files, layout, under=1) == {}


def test_tree_handles_a_very_deep_chain_without_recursion():
    depth = 20_000
    files = [folder(n, f"d{n}", n - 1) for n in range(1, depth + 1)]
    files.append(video(depth + 1, "bottom.mkv", depth))
    tree = PutioTree(reversed(files))
    parts = tree.parts(depth + 1)
    assert len(parts) == depth + 1 and parts[0] == "d1" and parts[-1] == "bottom.mkv"
    assert tree.depth(depth + 1) == depth + 1
    assert sum(1 for _ in tree.walk(0)) == depth + 1
    assert tree.resolve("/" + "/".join(parts)) == depth + 1


def test_tree_builds_100k_files_quickly():
    files = []
    for show in range(1000):
        files.append(folder(show + 1, f"Show {show}"))
    next_id = 2000
    for n in range(99_000):
        files.append(video(next_id, f"Show.S01E{n % 100:02d}.{n}.mkv", n % 1000 + 1))
        next_id += 1
    started = time.perf_counter()
    tree = PutioTree(files)
    assert sum(len(tree.parts(f.id)) for f in tree.walk(0)) == 1000 + 99_000 * 2
    assert time.perf_counter() - started < 10


# -- layouts -----------------------------------------------------------------------------------


def test_mirror_keeps_the_folders_and_swaps_the_extension():
    result = plan(ACCOUNT, "mirror")
    assert strm_paths(result) == {
        4: "Movies/The Matrix (1999)/The.Matrix.1999.1080p.BluRay.x264-GRP.strm",
        5: "Movies/Inception.2010.720p.strm",
        8: "TV/Show Name (2010)/Season 2/02x05.strm",
        9: "TV/Show Name (2010)/Season 2/Show.Name.S02E06.strm",
        14: "TV/Other.Show.S01.1080p.WEB/Other.Show.S01E01E02.1080p.WEB.strm",
        16: "Movies/Heat.1995.strm",
    }
    assert all(e.kind == "strm" for e in result.values())  # no nfo in mirror
    entry = result["Movies/Heat.1995.strm"]
    assert entry == Entry("Movies/Heat.1995.strm", "strm", 16, "http://bridge.test/strm/16")


def test_movies_layout_names_folders_and_writes_nfo():
    result = plan(ACCOUNT, "movies", source="/Movies")
    assert strm_paths(result) == {
        4: "The Matrix (1999)/The Matrix (1999).strm",
        5: "Inception (2010)/Inception (2010).strm",
        16: "Heat (1995)/Heat (1995).strm",
    }
    nfo = result["The Matrix (1999)/The Matrix (1999).nfo"]
    assert nfo.kind == "nfo" and nfo.file_id == 4 and nfo.language is None
    root = ET.fromstring(nfo.content)
    assert root.tag == "movie"
    assert (root.findtext("title"), root.findtext("year")) == ("The Matrix", "1999")
    assert len(result) == 6


def test_movies_layout_sends_episodes_and_unplaceable_files_to_unsorted():
    files = [*ACCOUNT, video(30, "....mkv", 1)]
    result = plan(files, "movies")
    paths = strm_paths(result)
    assert paths[8] == "_unsorted/TV/Show Name (2010)/Season 2/02x05.strm"
    assert paths[14] == "_unsorted/TV/Other.Show.S01.1080p.WEB/Other.Show.S01E01E02.1080p.WEB.strm"
    assert paths[30] == "_unsorted/Movies/_.strm"
    assert not any(p.startswith("_unsorted/") and p.endswith(".nfo") for p in result)


def test_shows_layout():
    result = plan(ACCOUNT, "shows", source="/TV")
    assert strm_paths(result) == {
        8: "Show Name (2010)/Season 02/Show Name (2010) - S02E05.strm",
        9: "Show Name (2010)/Season 02/Show Name (2010) - S02E06.strm",
        14: "Other Show/Season 01/Other Show - S01E01-E02.strm",
    }
    show = result["Show Name (2010)/tvshow.nfo"]
    assert show.kind == "nfo" and show.file_id == 8  # the lowest video id of the show
    assert ET.fromstring(show.content).findtext("title") == "Show Name"
    assert ET.fromstring(show.content).findtext("year") == "2010"
    assert "Other Show/tvshow.nfo" in result
    multi = result["Other Show/Season 01/Other Show - S01E01-E02.nfo"].content
    blocks = ET.fromstring(f"<w>{multi.split('?>', 1)[1]}</w>").findall("episodedetails")
    assert [b.findtext("episode") for b in blocks] == ["1", "2"]
    assert len(result) == 3 * 2 + 2


def test_shows_layout_sends_movies_to_unsorted():
    paths = strm_paths(plan(ACCOUNT, "shows"))
    assert paths[5] == "_unsorted/Movies/Inception.2010.720p.strm"
    assert paths[8] == "Show Name (2010)/Season 02/Show Name (2010) - S02E05.strm"


def test_nfo_can_be_turned_off():
    for layout in ("movies", "shows"):
        result = plan(ACCOUNT, layout, nfo=False)
        assert result and all(e.kind == "strm" for e in result.values())


# -- selection ---------------------------------------------------------------------------------


def test_only_playable_videos_are_planned():
    ids = set(strm_paths(plan(ACCOUNT)))
    assert 16 in ids  # FILE with a video extension
    assert not ids & {15, 17}  # text, audio


def test_skip_folders_and_samples():
    ids = set(strm_paths(plan(ACCOUNT)))
    assert not ids & {11, 12, 19, 20}  # Sample/ and Extras/ folders, sample files
    kept = set(strm_paths(plan(ACCOUNT, skip_folders=[])))
    assert {11, 12, 19, 20} <= kept
    only_extras = set(strm_paths(plan(ACCOUNT, skip_folders=["EXTRAS"])))
    assert 19 not in only_extras and {11, 12, 20} <= only_extras


def test_skip_folders_count_only_below_the_source():
    files = [folder(1, "Extras"), folder(2, "Films", 1), video(3, "Heat.1995.mkv", 2)]
    assert set(strm_paths(plan(files, source="/Extras"))) == {3}
    assert plan(files, source="/") == {}


def test_source_limits_the_plan():
    assert set(strm_paths(plan(ACCOUNT, source="/Movies"))) == {4, 5, 16}
    assert set(strm_paths(plan(ACCOUNT, source="/TV/Show Name (2010)"))) == {8, 9}
    assert strm_paths(plan(ACCOUNT, source="/TV/Show Name (2010)")) == {
        8: "Season 2/02x05.strm",
        9: "Season 2/Show.Name.S02E06.strm",
    }
    assert plan(ACCOUNT, source="/Nope") == {}


def test_source_folder_still_names_the_show():
    # A library rooted at the show folder: the show's name comes from above the source.
    result = plan(ACCOUNT, "shows", source="/TV/Show Name (2010)")
    assert strm_paths(result)[8] == "Show Name (2010)/Season 02/Show Name (2010) - S02E05.strm"


def test_under_limits_the_plan_to_a_folder_or_a_file():
    full = plan(ACCOUNT, "shows", source="/TV")
    part = plan(ACCOUNT, "shows", source="/TV", under=13)
    assert set(strm_paths(part)) == {14}
    assert all(full[p] == e for p, e in part.items())  # the same paths as a full sync
    single = plan(ACCOUNT, "mirror", source="/TV", under=8)
    assert single == {
        "Show Name (2010)/Season 2/02x05.strm": Entry(
            "Show Name (2010)/Season 2/02x05.strm", "strm", 8, "http://bridge.test/strm/8"
        )
    }


def test_under_outside_above_or_unknown():
    assert plan(ACCOUNT, source="/TV", under=3) == {}  # another library's folder
    assert plan(ACCOUNT, source="/TV", under=999) == {}
    assert plan(ACCOUNT, source="/TV", under=0) == plan(ACCOUNT, source="/TV")
    assert plan(ACCOUNT, source="/TV/Show Name (2010)", under=2) == plan(
        ACCOUNT, source="/TV/Show Name (2010)"
    )
    assert plan(ACCOUNT, source="/Movies", under=10) == {}  # a skip folder
    assert plan(ACCOUNT, source="/Movies", under=11) == {}  # a file inside one
    assert plan(ACCOUNT, source="/Movies", under=17) == {}  # not a video


# -- collisions --------------------------------------------------------------------------------


def test_collisions_go_to_the_lowest_id_and_are_order_independent():
    files = [
        folder(1, "Movies"),
        video(50, "Heat.1995.1080p.mkv", 1),
        video(40, "HEAT.1995.720p.mkv", 1),
        folder(2, "Heat (1995)", 1),
        video(60, "heat.1995.mkv", 2),
    ]
    expected = plan(files, "movies", subtitles=["en"])
    paths = strm_paths(expected)
    # 40 is the lowest id: it keeps the name, and its spelling of the folder holds for all.
    assert paths[40] == "HEAT (1995)/HEAT (1995).strm"
    assert paths[50] == "HEAT (1995)/Heat (1995) [putio-50].strm"
    assert paths[60] == "HEAT (1995)/Heat (1995) [putio-60].strm"
    assert "HEAT (1995)/Heat (1995) [putio-50].nfo" in expected
    assert expected["HEAT (1995)/Heat (1995) [putio-50].en.srt"].file_id == 50
    for seed in range(5):
        shuffled = random.Random(seed).sample(files, len(files))
        assert plan(shuffled, "movies", subtitles=["en"]) == expected


def test_casefold_clashes_in_mirror_and_merged_folder_spellings():
    files = [
        folder(1, "Action"),
        folder(2, "action"),
        video(3, "Movie.mkv", 2),
        video(4, "movie.mkv", 1),
        video(5, "MOVIE.mkv", 1),
        video(6, "Straße.mkv", 1),
        video(7, "STRASSE.mkv", 1),
    ]
    paths = strm_paths(plan(files))
    # Lowest video id (3) first used the "action" folder; both folders merge under it.
    assert paths == {
        3: "action/Movie.strm",
        4: "action/movie [putio-4].strm",
        5: "action/MOVIE [putio-5].strm",
        6: "action/Straße.strm",
        7: "action/STRASSE [putio-7].strm",
    }


def test_a_name_that_looks_like_our_tag_still_gets_a_distinct_path():
    files = [video(1, "X.mkv"), video(2, "x.mkv"), video(3, "X [putio-2].mkv")]
    paths = strm_paths(plan(files))
    assert paths[1] == "X.strm"
    assert len({p.casefold() for p in paths.values()}) == 3
    assert plan(list(reversed(files))) == plan(files)


def test_a_put_io_folder_named_like_our_output_cannot_clash_with_a_file():
    files = [video(1, "x.mkv"), folder(2, "x.strm"), video(3, "y.mkv", 2), folder(4, "tvshow.nfo")]
    files.append(video(5, "z.mkv", 4))
    paths = strm_paths(plan(files))
    assert paths == {1: "x.strm", 3: "x.strm_/y.strm", 5: "tvshow.nfo_/z.strm"}


def test_tagged_long_names_still_fit():
    long = "L" * 300
    files = [video(1, long + ".mkv"), video(2, long.lower() + ".mkv")]
    result = plan(files, subtitles=["en", "pt-BR"])
    for path in result:
        assert len(path.encode()) <= 255
    assert strm_paths(result)[2].endswith(" [putio-2].strm")


# -- subtitles ---------------------------------------------------------------------------------


def test_subtitle_entries_follow_the_video_stem():
    result = plan(ACCOUNT, "movies", source="/Movies", subtitles=["en", "fr", "EN", " ", "../x"])
    srt = {p: e for p, e in result.items() if e.kind == "srt"}
    assert srt["The Matrix (1999)/The Matrix (1999).en.srt"] == Entry(
        "The Matrix (1999)/The Matrix (1999).en.srt", "srt", 4, None, "en"
    )
    assert srt["The Matrix (1999)/The Matrix (1999).fr.srt"].language == "fr"
    assert srt["The Matrix (1999)/The Matrix (1999).x.srt"].language == "../x"
    assert len(srt) == 3 * 3  # three videos; "EN" repeats "en" and " " names nothing


# -- hostile names -----------------------------------------------------------------------------


def hostile_account() -> list[File]:
    files: list[File] = []
    next_id = 1000
    for n, name in enumerate(HOSTILE_NAMES):
        files.append(folder(next_id, name))
        files.append(video(next_id + 1, name, next_id))
        files.append(video(next_id + 2, name + ".mkv", 0))
        files.append(video(next_id + 3, f"{name}.S01E0{n % 9 + 1}.mkv", next_id))
        next_id += 10
    return files


@pytest.mark.parametrize("layout", ["mirror", "movies", "shows"])
def test_a_plan_over_hostile_names_is_safe(layout):
    files = hostile_account()
    result = plan(files, layout, subtitles=["en"])
    root = Path("/library")
    folded = [p.casefold() for p in result]
    assert len(folded) == len(set(folded))
    for path, entry in result.items():
        assert entry.path == path
        components = path.split("/")
        assert all(safe_component(c) == c for c in components)
        assert all(len(c.encode()) <= 255 for c in components)
        assert inside_root(root, path).is_relative_to(root)
    assert set(strm_paths(result)) == {f.id for f in files if f.is_video and f.parent_id == 0} | {
        f.id for f in files if f.is_video and f.parent_id and not _skipped(f, files)
    }
    # The same plan whatever order the listing came in.
    assert plan(random.Random(9).sample(files, len(files)), layout, subtitles=["en"]) == result


def _skipped(file: File, files: list[File]) -> bool:
    parent = next(f for f in files if f.id == file.parent_id)
    from putbridge.config import DEFAULT_SKIP_FOLDERS

    stem = file.name.rsplit(".", 1)[0].casefold()
    return parent.name.strip().casefold() in DEFAULT_SKIP_FOLDERS or "sample" in stem.split()


def test_deep_folders_are_flattened_into_unsorted():
    files = [folder(n + 1, name, n) for n, name in enumerate(DEEP_CHAIN)]
    files.append(video(10_000, "deep.mkv", len(DEEP_CHAIN)))
    files.append(video(10_001, "shallow.mkv", 3))
    paths = strm_paths(plan(files))
    assert paths[10_000] == "_unsorted/deep.strm"
    assert paths[10_001] == "level00000/level00001/level00002/shallow.strm"
    for path in paths.values():
        assert len(path.encode()) < 3500


# -- scale -------------------------------------------------------------------------------------


def test_mirror_plans_100k_files_quickly():
    files = [folder(n + 1, f"Folder {n}") for n in range(1000)]
    files += [video(10_000 + n, f"Some.Video.{n}.mkv", n % 1000 + 1) for n in range(100_000)]
    started = time.perf_counter()
    result = plan(files)
    assert len(result) == 100_000
    assert time.perf_counter() - started < 30
