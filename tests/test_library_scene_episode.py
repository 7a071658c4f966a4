"""The scene-name fast path for episodes gives exactly what the guessit path gives, or nothing.

Thousands of generated names in the shapes put.io episodes come in, each read both ways
(guessit bypassing the fast path and the parse cache); the fast path must agree or step aside,
and must not step aside for most plain names, or it is no use.
"""

from __future__ import annotations

import random

import pytest

from putbridge.library.naming import (
    _SCENE_GENERIC,
    _guess_folder,
    _parse_guessit,
    parse_media,
    scene_episode,
    scene_movie,
)
from putbridge.library.scene import read_episode

WORDS = (
    "Amber Silver Crimson Hollow Quiet Distant Golden Frozen Burning Hidden Broken Velvet Harbor"
    " Signal Orchard Lantern Meridian Canyon Falcon Compass Garden Summit Ember Ridge Breaking"
    " Good Wife Doctor House Wire Office Friends Lost Fargo Dark Mindhunter Succession Billions"
    " Severance Andor Yellowstone Shrinking Barry Atlanta Euphoria Ozark Dexter Castle Bones"
    " Sherlock Luther Hannibal Westworld Chernobyl Outlander Vikings Narcos Homeland Suits"
    " Scrubs Seinfeld Frasier Cheers Community Parks Recreation Modern Family Arrested"
    " Development Silicon Valley Mandalorian Boys Expanse Leftovers Sopranos Deadwood Rome"
    " Justified Americans Fringe Stranger Things Black Mirror Peaky Blinders Crown Handmaid"
    " Tale Grey Anatomy Walking Dead Blacklist Bridgerton Wednesday Ted Lasso Better Call Saul"
    " Station Eleven Big Bang Theory Mad Men Twin Peaks True Detective Game Thrones Last"
    " Kingdom Sons Anarchy Orange New Black Bad Sisters Only Murders Building Slow Horses"
    " Reacher Bosch Legacy Jack Ryan Boardwalk Empire Night Manager Killing Eve Fleabag"
    " Industry Hacks White Lotus Bear Sandman Watchmen Veep Girls Insecure Lovecraft Country"
    " Brooklyn Nine Abbott Elementary Superstore Mythic Quest Dollface Loki Hawkeye Moon Knight"
    " Wanda Vision Picard Discovery Strange Worlds Enterprise Voyager Babylon Firefly Angel"
    " Buffy Charmed Supernatural Smallville Arrow Flash Legends Gotham Daredevil Punisher"
    " Cobra Kai Halt Catch Fire Mentalist Monk Psych Numbers Bull Blue Bloods Chicago Fire"
    " Med Hope Mystery Road Queen Sugar Power Snowfall Shameless Weeds Nurse Jackie Californication"
    " Episodes Medium Raising Hope Emergency Tokyo Vice Paris London"
)
# Words guessit may read as something else (or that the fast path refuses to judge).
TRICKY = (
    "Pilot English French Final Special Proper Complete Extended Part Season Cut Director"
    " Edition Limited Web Rip Retail Live Dub Sub Sample America Canada Jordan Georgia Chad"
    " Turkey Jersey Even Bats Mix Civil Dim II III IV VI XI Mr Mrs Dr Jr St Es De It Us Uk No"
    " Un Le La Les El Los"
)
SHORT = ["The", "A", "An", "of", "the", "and", "in", "on", "to", "at", "by", "my", "is", "me"]
ODD = ["&", "Bob's", "Grey's", "Don't", "Star-Crossed", "9-1-1", "100", "24", "2049", "1923",
       "O'Brien", "Handmaid's", "X", "I", "We'll", "Ex-Wife"]  # fmt: skip
TAG_SETS = [
    ["720p", "HDTV", "x264"],
    ["1080p", "WEB", "H264"],
    ["1080p", "WEB-DL", "DDP5.1", "H.264"],
    ["2160p", "WEBRip", "x265", "HEVC"],
    ["720p", "BluRay", "x264"],
    ["1080p", "AMZN", "WEB-DL", "DDP5.1", "H.264"],
    ["1080p", "NF", "WEBRip", "DDP5.1", "x264"],
    ["2160p", "DSNP", "WEB-DL", "DDP5.1", "Atmos", "HDR", "H.265"],
    ["HDTV", "x264"],
    ["1080p", "BluRay", "AAC", "x265", "10bit"],
    ["480p", "x264"],
    ["720p", "WEB", "h264"],
    ["1080p", "HMAX", "WEB-DL", "DD5.1", "H.264"],
    [],
]
GROUPS = ["GRP", "NTb", "FLUX", "ION10", "TEPES", "GalaxyTV", "KOGi", "SuccessfulCrab", "LOL",
          "DIMENSION", "KILLERS", "MeGusta", "playWEB", "EDITH", "RARBG", None]  # fmt: skip
FLAGS = [[], [], [], ["PROPER"], ["REPACK"], ["INTERNAL"]]
EPISODE_TITLES = ["The Beginning", "Winter Is Coming", "Ozymandias", "The Long Night", "Fly",
                  "Home", "Smoke & Mirrors", "Who's There", "A Study in Pink"]  # fmt: skip
ODD_EPISODE_TITLES = ["Pilot", "Chapter One", "Part 2", "The One Where It Ends", "Special",
                      "Day 1", "Episode 5", "English"]  # fmt: skip


def _title(rng: random.Random, plain: bool) -> list[str]:
    pool = WORDS.split() if plain else WORDS.split() + TRICKY.split() * 3
    words = [rng.choice(pool) for _ in range(rng.choice((1, 1, 2, 2, 2, 3, 3, 4)))]
    if rng.random() < 0.3:
        words.insert(0, rng.choice(SHORT[:3]))
    if len(words) > 2 and rng.random() < 0.3:
        words.insert(rng.randrange(1, len(words)), rng.choice(SHORT))
    if not plain and rng.random() < 0.6:
        words.insert(rng.randrange(0, len(words) + 1), rng.choice(ODD))
    return words


def _names(rng: random.Random, plain: bool) -> tuple[str, tuple[str, ...], list[str], int | None]:
    words = _title(rng, plain)
    year = rng.choice((None, None, None, rng.randint(1950, 2024)))
    season, episode = rng.randint(0 if not plain else 1, 30), rng.randint(1, 150)
    code = f"S{season:02d}E{episode:02d}"
    if not plain and rng.random() < 0.1:
        code = code.lower()
    ext = rng.choice((".mkv", ".mkv", ".mp4", ".avi"))
    titles = EPISODE_TITLES if plain else EPISODE_TITLES + ODD_EPISODE_TITLES * 2
    tag_sets = TAG_SETS[:-1] if plain else TAG_SETS
    if rng.random() < 0.7:  # Show.Name[.2019].S01E02[.Title].tags-GROUP.mkv
        parts = [*words, *([str(year)] if year else []), code]
        if rng.random() < 0.2:
            parts += rng.choice(titles).split()
        tags = rng.choice(FLAGS) + rng.choice(tag_sets)
        name = ".".join(parts + tags)
        group = rng.choice(GROUPS)
        if group and tags:
            name += f"-{group}"
    else:  # Show Name[ (2019)] - S01E02[ - Title].mkv
        name = " ".join(words) + (f" ({year})" if year else "") + f" - {code}"
        if rng.random() < 0.6:
            name += f" - {rng.choice(titles)}"
    spaced = " ".join(words)
    folder_year = year if rng.random() < 0.7 else rng.choice((None, rng.randint(1950, 2024)))
    show_folder = spaced + (f" ({folder_year})" if folder_year else "")
    if rng.random() < 0.1:  # the folder spells the show differently
        show_folder = " ".join(_title(rng, plain))
    release = ".".join([*words, f"S{season:02d}", *rng.choice(tag_sets)])
    release += f"-{rng.choice(GROUPS[:-1])}"
    season_dir = rng.choice((f"Season {season:02d}", f"Season {season}", "season 1", "Specials"))
    generic = rng.choice(("TV", "TV Shows", "Shows", "Series", "Downloads", "tv", "Complete"))
    parents = rng.choice(
        [
            (),
            (generic,),
            (generic, show_folder),
            (show_folder,),
            (show_folder, season_dir),
            (generic, show_folder, season_dir),
            (season_dir,),
            (generic, release),
            (release,),
            (generic, season_dir),
            (show_folder, release),
        ]
    )
    return ext and name + ext, parents, words, year


def _corpus(plain: bool, count: int, seed: int) -> list[tuple[str, tuple[str, ...]]]:
    rng = random.Random(seed)
    return [_names(rng, plain)[:2] for _ in range(count)]


PLAIN = _corpus(plain=True, count=1500, seed=11)
ODDER = _corpus(plain=False, count=1500, seed=12)


def _check(corpus):
    taken = wrong = 0
    for name, parents in corpus:
        fast = scene_episode(name, parents)
        if fast is None:
            continue
        taken += 1
        slow = _parse_guessit(name, parents)
        if fast != slow:
            wrong += 1
            print(f"DISAGREE {name!r} {parents!r}\n  fast {fast}\n  slow {slow}")
    return taken, wrong


@pytest.mark.parametrize("corpus", ["plain", "odder"])
def test_the_fast_path_agrees_with_guessit_or_steps_aside(corpus):
    names = PLAIN if corpus == "plain" else ODDER
    taken, wrong = _check(names)
    assert wrong == 0
    assert len(names) + len(ODDER) >= 2000
    if corpus == "plain":
        assert taken >= 0.8 * len(names), taken


def test_episode_names_are_not_movies():
    for name, _ in PLAIN[:200]:
        assert scene_movie(name) is None


@pytest.mark.parametrize(
    "name",
    [
        "Show.S01E01E02.720p.mkv",
        "Show.S01E01-E02.720p.mkv",
        "Show.S01E01-02.mkv",
        "Show.1x02.720p.mkv",
        "Show.2020.01.15.720p.mkv",
        "[Grp] Show - 12 [1080p].mkv",
        "Show - 12.mkv",
        "Café.S01E01.mkv",
        "Show.S01E01.[1080p].mkv",
        "The.Office.US.S01E01.720p.mkv",
        "Show.S01E01.720p.FRENCH.mkv",
        "Show.Part.2.S01E01.mkv",
        "Show.S01E01.Part.2.mkv",
        "Show.S01.E01.mkv",
        "Show.S01E01",
        "Show.S01E01.720p.WEB.x264-GRP.txt",
    ],
)
def test_the_fast_path_leaves_unusual_names_to_guessit(name):
    assert read_episode(name) is None


@pytest.mark.parametrize("name", sorted(_SCENE_GENERIC))
def test_generic_folders_carry_nothing_for_guessit(name):
    guess = _guess_folder(name)
    assert (guess.title, guess.year, guess.seasons, guess.episodes) == (None, None, (), ())


def test_parse_media_takes_the_fast_path_and_agrees():
    name, parents = "Slow.Horses.2022.S02E05.1080p.WEB.H264-GRP.mkv", ("TV", "Slow Horses (2022)")
    assert parse_media(name, parents) == _parse_guessit(name, parents)
    assert scene_episode(name, parents) == _parse_guessit(name, parents)
