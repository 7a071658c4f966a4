"""Intake sources: magnet links, http(s) URLs, .torrent bytes and blackhole drop files, including
what a careless or hostile user can put in each."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import random
import re
import time

import pytest
import torf

from putbridge.errors import IntakeError
from putbridge.intake import (
    DROP_SUFFIXES,
    MAX_TORRENT_BYTES,
    Source,
    normalize_url,
    parse_link,
    parse_torrent,
    read_drop,
)
from putbridge.intake import sources as sources_module
from tests.factories import infohash, make_torrent

HASH = "c9e15763f722f23e98a29decdfae341b98d53056"
MAGNET = f"magnet:?xt=urn:btih:{HASH}&dn=Some.Show.S01E01.1080p&tr=udp%3A%2F%2Ftracker.invalid%3A80"


def bencode(value) -> bytes:
    """Bencode with keys in the order given (so tests can also write out-of-order ones)."""
    if isinstance(value, dict):
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in value.items()) + b"e"
    if isinstance(value, list):
        return b"l" + b"".join(bencode(item) for item in value) + b"e"
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    return b"%d:%s" % (len(value), value)


def raw_torrent(**info) -> bytes:
    """A minimal single-file .torrent; keyword arguments replace or (None) drop info entries."""
    fields = {"length": 5, "name": "x", "piece length": 16384, "pieces": b"a" * 20}
    fields.update(info)
    return bencode({"info": {k: v for k, v in fields.items() if v is not None}})


@pytest.fixture
def torrent(tmp_path) -> bytes:
    return make_torrent(tmp_path, {"Film.2020.mkv": b"x" * 50_000})


def drop(tmp_path, name: str, content: bytes | str):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def refused(path) -> str:
    """The message read_drop gives; it must start with the file's name."""
    with pytest.raises(IntakeError) as caught:
        read_drop(path)
    message = str(caught.value)
    assert message.startswith(path.name), message
    return message


# ---- magnet links -------------------------------------------------------------------------------


def test_magnet_hex_keeps_dn_and_link():
    source = parse_link(MAGNET)
    assert source == Source(
        kind="magnet",
        key=f"btih:{HASH}",
        name="Some.Show.S01E01.1080p",
        url=MAGNET,
        data=None,
        filename=None,
    )


def test_magnet_uppercase_hex_and_scheme_give_the_same_key():
    source = parse_link(MAGNET.replace(HASH, HASH.upper()).replace("magnet:", "MAGNET:"))
    assert source.key == f"btih:{HASH}"
    assert source.url.startswith("MAGNET:?xt=urn:btih:C9E1")  # the link itself as given


@pytest.mark.parametrize("case", [str.upper, str.lower])
def test_magnet_base32_converts_to_the_hex_hash(tmp_path, case):
    data = make_torrent(tmp_path, {"a.mkv": b"y" * 1000})
    meta = torf.Torrent.read_stream(io.BytesIO(data))
    b32 = meta.infohash_base32.decode()
    digest = hashlib.sha1(bencode_info(data)).digest()
    assert base64.b32encode(digest).decode() == b32
    source = parse_link(f"magnet:?xt=urn:btih:{case(b32)}&dn=a.mkv")
    assert source.key == f"btih:{digest.hex()}" == f"btih:{infohash(data)}"


def bencode_info(data: bytes) -> bytes:
    start = data.index(b"4:info") + len(b"4:info")
    return data[start:-1]  # torf writes "info" last, so the dictionary ends before the final "e"


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("0" * 39, "39 characters"),
        ("0" * 41, "41 characters"),
        ("", "0 characters"),
        ("g" * 40, "not hex digits"),
        ("A1" * 16, "not base32"),  # 1, 0, 8 and 9 are not in the base32 alphabet
        ("A" * 31 + "=", "not base32"),
        ("%00" * 40, "not hex digits"),  # decoded to NULs
    ],
)
def test_magnet_bad_hash_is_explained(value, words):
    with pytest.raises(IntakeError, match=words):
        parse_link(f"magnet:?xt=urn:btih:{value}")


@pytest.mark.parametrize(
    ("link", "words"),
    [
        ("magnet:?dn=no.hash", "no info-hash"),
        ("magnet:?", "no info-hash"),
        ("magnet:?xt=", "no info-hash"),
        ("magnet:?xt=urn:x&xt=urn:sha1:Y", "has urn, urn:sha1 but no"),
        ("magnet:?xt=urn:sha1:YNCKHTQCWBTRNJIV4WNAE52SJUQCZO5C", "urn:sha1"),
        ("magnet:?xt=urn:ed2k:31D6CFE0D16AE931B73C59D7E0C089C0&xt=urn:tree:tiger:A", "not a BitT"),
        ("magnet:?xt=urn:btmh:1220" + "ab" * 32, "v2"),
        (f"magnet:xt=urn:btih:{HASH}", "magnet:\\?"),
    ],
)
def test_magnet_without_btih_is_explained(link, words):
    with pytest.raises(IntakeError, match=words):
        parse_link(link)


def test_magnet_several_topics_first_btih_wins():
    other = "f" * 40
    hybrid = f"magnet:?xt=urn:btmh:1220{'ab' * 32}&xt=urn:btih:{HASH}&xt=urn:btih:{other}"
    assert parse_link(hybrid).key == f"btih:{HASH}"
    numbered = f"magnet:?xt.1=urn:sha1:YNCK&xt.2=urn:btih:{other}&xt.3=urn:btih:{HASH}"
    assert parse_link(numbered).key == f"btih:{other}"
    encoded = f"magnet:?xt=urn%3Abtih%3A{HASH}"
    assert parse_link(encoded).key == f"btih:{HASH}"


def test_magnet_first_btih_malformed_is_an_error_not_skipped():
    with pytest.raises(IntakeError, match="41 characters"):
        parse_link(f"magnet:?xt=urn:btih:{HASH}0&xt=urn:btih:{HASH}")


@pytest.mark.parametrize(
    ("dn", "name"),
    [
        ("Some%20Show%2FS01%5CE01", "Some Show/S01\\E01"),  # separators kept: display only
        ("A+B", "A B"),
        ("line%0Abreak%0D%0Aand%09tab%00nul%7Fdel", "line break and tab nul del"),
        ("%E2%80%AEevil%E2%80%8Bname", "evilname"),  # RTL override and zero-width space dropped
        ("%E2%80%A8sep", "sep"),
        ("Caf%C3%A9%20%E6%97%A5%E6%9C%AC", "Café 日本"),
        ("%FF%FEbad", "\ufffd\ufffdbad"),
        ("", HASH),
        ("%20%0A%20", HASH),
    ],
)
def test_magnet_dn_is_cleaned_for_display(dn, name):
    assert parse_link(f"magnet:?xt=urn:btih:{HASH}&dn={dn}").name == name


def test_magnet_without_dn_is_named_by_hash_and_first_dn_wins():
    assert parse_link(f"magnet:?xt=urn:btih:{HASH}").name == HASH
    assert parse_link(f"magnet:?dn=one&xt=urn:btih:{HASH}&dn=two").name == "one"


def test_magnet_huge_dn_is_capped_but_the_link_kept():
    link = f"magnet:?xt=urn:btih:{HASH}&dn={'n' * 10_000}"
    source = parse_link(link)
    assert len(source.name) == 255 and source.name.endswith("…")
    assert source.url == link


def test_link_longer_than_the_limit_is_refused():
    with pytest.raises(IntakeError, match="characters long"):
        parse_link(f"magnet:?xt=urn:btih:{HASH}&dn={'n' * 70_000}")


@pytest.mark.parametrize("around", [" ", "\n", "\r\n", "\t \n", "\ufeff", "\ufeff  \n"])
def test_link_surrounding_whitespace_and_bom_are_ignored(around):
    source = parse_link(f"{around}{MAGNET}{around.replace(chr(0xFEFF), '')}")
    assert source.url == MAGNET and source.key == f"btih:{HASH}"


@pytest.mark.parametrize(
    ("inside", "words"),
    [
        ("\n", "line break"),
        ("\r", "line break"),
        (" ", "space"),
        ("\t", "tab"),
        ("\x00", "U\\+0000"),
        ("\u200b", "U\\+200B"),
        ("\u00a0", "U\\+00A0"),
    ],
)
def test_link_with_whitespace_or_control_inside_is_refused(inside, words):
    with pytest.raises(IntakeError, match=words):
        parse_link(MAGNET.replace("&dn=", f"{inside}&dn="))
    with pytest.raises(IntakeError, match=words):
        parse_link(f"https://example.com/a{inside}b.torrent")


@pytest.mark.parametrize(
    ("link", "words"),
    [
        ("javascript:alert(1)", "'javascript:' links are not accepted"),
        ("JavaScript:alert(1)", "'javascript:'"),
        ("file:///etc/passwd", "'file:'"),
        ("ftp://example.com/a.torrent", "'ftp:'"),
        ("data:text/plain,hi", "'data:'"),
        ("urn:btih:" + HASH, "'urn:'"),
        ("C:\\Downloads\\a.torrent", "'c:'"),
        ("example.com/a.torrent", "not a link"),
        ("//example.com/a.torrent", "not a link"),
        (HASH, "not a link"),
        ("", "empty"),
        ("   \n\t", "empty"),
        ("\ufeff", "empty"),
        ("http://", "no host"),
        ("https:///path/only", "no host"),
        ("http:example.com", "no host"),
        ("http://example.com:99999/", "malformed"),
        ("http://example.com:port/", "malformed"),
        ("http://[::1/", "malformed"),
    ],
)
def test_link_refusals_are_intake_errors(link, words):
    with pytest.raises(IntakeError, match=words):
        parse_link(link)


@pytest.mark.parametrize("value", [None, b"magnet:?xt=urn:btih:" + HASH.encode(), 42])
def test_link_that_is_not_text_is_an_intake_error(value):
    with pytest.raises(IntakeError, match="must be text"):
        parse_link(value)


# ---- http(s) URLs -------------------------------------------------------------------------------


def test_url_source():
    link = "https://dl.example.com/files/Some%20Film.torrent?id=7"
    assert parse_link(f"  {link}\n") == Source(
        kind="url",
        key="url:https://dl.example.com/files/Some%20Film.torrent?id=7",
        name="Some Film.torrent",
        url=link,
        data=None,
        filename=None,
    )


def test_url_with_credentials_keeps_them_but_not_in_the_name():
    link = "https://User:S3cret@Example.com/get/file.bin"
    source = parse_link(link)
    assert source.url == link
    assert source.key == "url:https://User:S3cret@example.com/get/file.bin"
    assert source.name == "file.bin"


@pytest.mark.parametrize(
    ("link", "name"),
    [
        ("https://example.com", "example.com"),
        ("https://example.com/", "example.com"),
        ("https://example.com/dir/", "dir"),
        ("http://[::1]:8080/a%0Ab", "a b"),
        ("https://example.com/%2e%2e%2f%2e%2e", "../.."),
    ],
)
def test_url_name_is_the_last_path_part_or_the_host(link, name):
    assert parse_link(link).name == name


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("HTTP://Example.COM", "http://example.com/"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:443/a", "http://example.com:443/a"),
        ("https://example.com:8443/a#frag", "https://example.com:8443/a"),
        ("https://example.com/A/b?Q=1&x=%20#f", "https://example.com/A/b?Q=1&x=%20"),
        ("https://Us%40er:PaSS@Host.example:443/", "https://Us%40er:PaSS@host.example/"),
        ("http://[2001:DB8::1]:80/x", "http://[2001:db8::1]/x"),
        ("http://[2001:db8::1]:81/x", "http://[2001:db8::1]:81/x"),
        (" https://example.com/x ", "https://example.com/x"),
    ],
)
def test_normalize_url(url, normal):
    assert normalize_url(url) == normal
    assert normalize_url(normal) == normal  # idempotent


def test_equivalent_urls_share_a_key():
    keys = {
        parse_link(link).key
        for link in (
            "https://Example.com/a.torrent",
            "HTTPS://example.COM:443/a.torrent",
            "https://example.com/a.torrent#top",
        )
    }
    assert keys == {"url:https://example.com/a.torrent"}
    assert parse_link("https://example.com/A.torrent").key not in keys  # paths are case-sensitive


@pytest.mark.parametrize("url", ["ftp://example.com/", "magnet:?xt=urn:btih:x", "", "http://"])
def test_normalize_url_refuses_what_is_not_http(url):
    with pytest.raises(IntakeError):
        normalize_url(url)


# ---- .torrent bytes -----------------------------------------------------------------------------


def test_torrent_source(torrent):
    source = parse_torrent(torrent, "Film.2020.torrent")
    assert source.kind == "torrent"
    assert source.key == f"btih:{infohash(torrent)}"
    assert source.name == "Film.2020.mkv"
    assert source.data == torrent and source.url is None
    assert source.filename == "Film.2020.torrent"
    assert "data=" not in repr(source)  # 10 MB of bytes never ends up in a log line


def test_multi_file_torrent_and_default_filename(tmp_path):
    data = make_torrent(tmp_path, {"a/1.mkv": b"1" * 100, "b.srt": b"2" * 10}, name="Pack")
    source = parse_torrent(bytearray(data))
    assert (source.name, source.filename, source.data) == ("Pack", "upload.torrent", data)
    assert source.key == f"btih:{infohash(data)}"


def test_torrent_and_its_magnets_share_a_key(torrent):
    meta = torf.Torrent.read_stream(io.BytesIO(torrent))
    keys = {
        parse_torrent(torrent).key,
        parse_link(f"magnet:?xt=urn:btih:{meta.infohash.upper()}").key,
        parse_link(f"magnet:?xt=urn:btih:{meta.infohash_base32.decode()}").key,
        parse_link(str(meta.magnet())).key,
    }
    assert len(keys) == 1


def test_torrent_hash_is_over_the_raw_info_bytes_even_when_keys_are_out_of_order():
    info = bencode({"pieces": b"a" * 20, "name": "x", "length": 5, "piece length": 16384})
    data = b"d4:info" + info + b"e"
    source = parse_torrent(data)
    assert source.key == f"btih:{hashlib.sha1(info).hexdigest()}"
    # torf re-sorts the keys before hashing; a BitTorrent client (and put.io) does not
    assert torf.Torrent.read_stream(io.BytesIO(data)).infohash != hashlib.sha1(info).hexdigest()


@pytest.mark.parametrize(
    ("filename", "safe"),
    [
        ("../../etc/passwd", "passwd.torrent"),
        ("C:\\Users\\me\\Film.TORRENT", "Film.torrent"),
        ("dir/", "upload.torrent"),
        ("..", "upload.torrent"),
        ("", "upload.torrent"),
        (".torrent", "upload.torrent"),
        (".hidden.torrent", "hidden.torrent"),
        ("film.bin", "film.bin.torrent"),
        ("a\nb\x00c.torrent", "a b c.torrent"),
        ("Caf\u00e9 \u65e5\u672c.torrent", "Caf\u00e9 \u65e5\u672c.torrent"),
        ("trailing dots... .torrent", "trailing dots.torrent"),
    ],
)
def test_torrent_filename_is_one_safe_component(filename, safe):
    assert parse_torrent(raw_torrent(), filename).filename == safe


def test_torrent_long_filename_fits_255_bytes():
    name = parse_torrent(raw_torrent(), "\u65e5" * 300 + ".torrent").filename
    assert name.endswith(".torrent") and len(name.encode()) <= 255


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("a/b\\c", "a/b\\c"),
        ("two\nlines\r\x1b[31m", "two lines [31m"),
        (b"\xff\xfe raw", "\ufffd\ufffd raw"),
        ("\u202egnp.exe", "gnp.exe"),
    ],
)
def test_torrent_name_is_cleaned_for_display(name, shown):
    assert parse_torrent(raw_torrent(name=name)).name == shown


def test_torrent_named_only_control_characters_is_named_by_hash():
    source = parse_torrent(raw_torrent(name="\n\t"))
    assert source.name == source.key.removeprefix("btih:")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"hello world", "not bencoded"),
        (b"i42e", "not bencoded"),
        (b"le", "not bencoded"),
        (b"\x00" * 100, "not bencoded"),
        (b"  <!DOCTYPE html><html>Not found</html>", "HTML"),
        (b"\xef\xbb\xbfmagnet:?xt=urn:btih:" + HASH.encode(), "magnet link as text"),
        (b"de", "no 'info'"),
        (b"d3:foo3:bare", "no 'info'"),
        (b"d4:infoi1ee", "not a dictionary"),
        (b"d4:info3:bare", "not a dictionary"),
        (b"d4:infodee", "no 'name'"),
        (raw_torrent(pieces=None), "no 'pieces'"),
        (raw_torrent(name=None), "no 'name'"),
        (raw_torrent(pieces=b"a" * 19), "divisible by 20"),
        (raw_torrent()[:-5], "truncated"),
        (raw_torrent() + b"junk", "extra data"),
        (raw_torrent() + b"de", "extra data"),
        (raw_torrent() + b"e", "extra data"),
        (b"d4:info", "truncated"),
        (b"d99999999999:abce", "truncated"),  # torf's decoder would try to allocate 100 GB
        (b"d4:infod4:name-1:xee", "damaged"),
        (b"d4:infod4:namei1x2eee", "malformed number"),
        (b"d4:infodi1e1:xee", "key is not text"),
        (b"d4:infodd1:aee1:xee", "key is not text"),
        (b"d4:infoe", "unexpected end"),
        (b"d1:a" * 50_000 + b"1:x" + b"e" * 50_000, "nested too deeply"),
        (b"d1:a" + b"l" * 200_000, "nested too deeply"),
    ],
)
def test_bad_torrents_are_explained(data, words):
    with pytest.raises(IntakeError, match=words):
        parse_torrent(data)


@pytest.mark.parametrize(
    ("info", "accepted"),
    [
        ({"name": 5}, False),
        ({"name": ["a"]}, False),
        ({"length": "five"}, False),
        ({"length": -5}, False),
        ({"piece length": -1}, False),
        ({"piece length": 0}, False),
        ({"length": None, "files": "nope"}, False),
        ({"length": None, "files": [{"path": "x"}]}, False),
        ({"length": None, "files": [5]}, False),
        # torf lets these through; put.io is the judge of them at upload
        ({"piece length": 2**80}, True),
        ({"length": None, "files": [{"length": 1, "path": []}]}, True),
        ({"private": "yes"}, True),
    ],
)
def test_odd_info_values_are_intake_errors_not_crashes(info, accepted):
    data = raw_torrent(**info)
    if accepted:
        assert parse_torrent(data).kind == "torrent"
    else:
        with pytest.raises(IntakeError, match="torrent"):
            parse_torrent(data)


@pytest.mark.parametrize("date", ["yesterday", 2**80, [1]])
def test_odd_creation_date_is_an_intake_error(date):
    # torf raises ValueError / OverflowError here, not one of its own errors
    info = {"length": 5, "name": "x", "piece length": 16384, "pieces": b"a" * 20}
    with pytest.raises(IntakeError, match="not a valid .torrent") as caught:
        parse_torrent(bencode({"creation date": date, "info": info}))
    assert isinstance(caught.value.__cause__, ValueError | OverflowError)


def test_v2_only_torrent_is_named_as_such():
    info = {
        "file tree": {"x": {"": {"length": 5, "pieces root": b"r" * 32}}},
        "meta version": 2,
        "name": "x",
        "piece length": 16384,
    }
    with pytest.raises(IntakeError, match="v2-only"):
        parse_torrent(bencode({"info": info}))


def test_every_truncation_of_a_real_torrent_is_refused(torrent):
    for end in range(len(torrent)):
        with pytest.raises(IntakeError):
            parse_torrent(torrent[:end])


def test_random_damage_never_escapes_as_another_exception(torrent):
    rng = random.Random(4)
    for _ in range(500):
        damaged = bytearray(torrent)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        try:
            source = parse_torrent(bytes(damaged))
        except IntakeError:
            continue
        assert source.key.startswith("btih:") and len(source.key) == 45


def test_torrent_over_the_limit_is_refused():
    with pytest.raises(IntakeError, match="too big"):
        parse_torrent(b"d" + b"0" * MAX_TORRENT_BYTES)


def test_torrent_just_under_the_limit_is_accepted_and_quick():
    # torf alone would refuse anything over 10,000,000 bytes; the limit is 10 MiB
    count = (MAX_TORRENT_BYTES - 200) // 20
    data = raw_torrent(length=count * 16384, pieces=os.urandom(20 * count))
    assert 10_000_000 < len(data) <= MAX_TORRENT_BYTES
    started = time.monotonic()
    source = parse_torrent(data)
    assert time.monotonic() - started < 5
    assert source.key == f"btih:{hashlib.sha1(data[7:-1]).hexdigest()}"


def test_parse_torrent_refuses_text():
    with pytest.raises(IntakeError, match="bytes"):
        parse_torrent("d4:infodee")


# ---- drop files ---------------------------------------------------------------------------------


def test_drop_suffixes():
    assert DROP_SUFFIXES == (".torrent", ".magnet", ".txt", ".url")
    assert MAX_TORRENT_BYTES == 10 * 1024 * 1024


def test_drop_torrent(tmp_path, torrent):
    source = read_drop(drop(tmp_path, "Film (2020) [1080p].TORRENT", torrent))
    assert source.kind == "torrent" and source.key == f"btih:{infohash(torrent)}"
    assert source.filename == "Film (2020) [1080p].torrent"  # what put.io looks for


def test_drop_unicode_names(tmp_path, torrent):
    name = "Am\u00e9lie \u65e5\u672c \U0001f3ac.torrent"
    assert read_drop(drop(tmp_path, name, torrent)).filename == name
    path = drop(tmp_path, "Am\u00e9lie \u65e5\u672c.magnet", "not a link")
    assert "Am\u00e9lie \u65e5\u672c.magnet" in refused(path)


@pytest.mark.parametrize(
    "content",
    [
        MAGNET,  # what Sonarr and Radarr write: no newline
        MAGNET + "\n",
        MAGNET + "\r\n",
        "\r\n  " + MAGNET + "  \r\n\r\n",
        "\ufeff" + MAGNET,
        ("\ufeff" + MAGNET + "\r\n").encode("utf-16-le"),
        ("\ufeff" + MAGNET).encode("utf-16-be"),
        (MAGNET + "\n").encode("utf-16"),
    ],
)
def test_drop_magnet(tmp_path, content):
    source = read_drop(drop(tmp_path, "Some.Show.S01E01.magnet", content))
    assert (source.kind, source.key, source.url) == ("magnet", f"btih:{HASH}", MAGNET)


def test_drop_magnet_file_may_hold_an_http_url(tmp_path):
    source = read_drop(drop(tmp_path, "x.magnet", "https://example.com/x.torrent"))
    assert source.kind == "url"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "is empty"),
        (b" \r\n\t\n", "blank"),
        (b"\xef\xbb\xbf", "blank"),
        (b"\xef\xbb\xbf\r\n", "blank"),
        (MAGNET.encode() + b"\n" + MAGNET.encode(), "line break"),
        (MAGNET[:30].encode() + b"\n" + MAGNET[30:].encode(), "line break"),
        (b"magnet:?xt=urn:btih:\xff\xfe" + HASH.encode(), "not UTF-8 .*offset 20"),
        (b"\xff\xfe\x00\xd8", "not UTF-16"),  # a BOM, then a lone surrogate
        (b"javascript:alert(document.cookie)", "'javascript:' links are not accepted"),
        (b"magnet:?xt=urn:btih:" + b"0" * 39, "39 characters"),
        (b"\x00\x01\x02", "U\\+0000"),
    ],
)
def test_drop_magnet_refusals_name_the_file(tmp_path, content, words):
    message = refused(drop(tmp_path, "bad.magnet", content))
    assert message.startswith("bad.magnet: ") or message.startswith("bad.magnet is ")
    assert re.search(words, message), message


def test_drop_txt_first_link_wins(tmp_path):
    text = "Download this:\r\n\r\n  # a comment\r\n  " + MAGNET + "\r\nhttps://example.com/x\r\n"
    assert read_drop(drop(tmp_path, "notes.txt", text)).key == f"btih:{HASH}"
    url_first = "https://example.com/x.torrent\n" + MAGNET
    assert read_drop(drop(tmp_path, "links.txt", url_first)).kind == "url"


def test_drop_txt_without_a_link(tmp_path):
    message = refused(drop(tmp_path, "notes.txt", "just some words\nftp://example.com/a\n"))
    assert "no magnet link or http(s) URL" in message


def test_drop_txt_first_link_malformed_is_an_error(tmp_path):
    path = drop(tmp_path, "notes.txt", "magnet:?dn=nohash\n" + MAGNET)
    assert "no info-hash" in refused(path)


@pytest.mark.parametrize(
    "content",
    [
        "[InternetShortcut]\r\nURL=https://example.com/Film.torrent\r\n",
        "\ufeff[{000214A0-0000-0000-C000-000000000046}]\r\nProp3=19,11\r\n"
        "[InternetShortcut]\r\nIDList=\r\nurl = https://example.com/Film.torrent \r\n"
        "IconIndex=0\r\n",
        "[InternetShortcut]\nURL=https://example.com/Film.torrent\n[Other]\nURL=https://x/y\n",
        "https://example.com/Film.torrent\r\n",
    ],
)
def test_drop_url_shortcut(tmp_path, content):
    source = read_drop(drop(tmp_path, "Film.url", content))
    assert (source.kind, source.url) == ("url", "https://example.com/Film.torrent")


def test_drop_url_shortcut_to_a_magnet(tmp_path):
    source = read_drop(drop(tmp_path, "m.URL", f"[InternetShortcut]\r\nURL={MAGNET}\r\n"))
    assert source.kind == "magnet" and source.key == f"btih:{HASH}"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("[InternetShortcut]\r\nIconIndex=0\r\n", "without a URL= line"),
        ("[Other]\r\nURL=https://example.com/\r\n", "without a URL= line"),
        ("[InternetShortcut]\r\nURL=\r\n", "empty"),
        ("[InternetShortcut]\r\nURL=file:///C:/Windows/win.ini\r\n", "'file:'"),
    ],
)
def test_drop_url_refusals(tmp_path, content, words):
    assert words in refused(drop(tmp_path, "x.url", content))


def test_drop_torrent_holding_a_magnet_as_text_is_taken_as_the_magnet(tmp_path):
    source = read_drop(drop(tmp_path, "oops.torrent", "\ufeff" + MAGNET + "\r\n"))
    assert (source.kind, source.key, source.data) == ("magnet", f"btih:{HASH}", None)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"<html><body>404</body></html>", "HTML"),
        (b"not bencode at all", "not bencoded"),
        (b"d3:foo3:bare", "no 'info'"),
        (b"", "empty"),
        (raw_torrent()[:-3], "truncated"),
        (b"https://example.com/a.torrent", "not bencoded"),
    ],
)
def test_drop_bad_torrent_names_the_file(tmp_path, content, words):
    assert words in refused(drop(tmp_path, "Bad Film.torrent", content))


@pytest.mark.parametrize("name", ["setup.exe", "film.torrent.part", "README", "x.magnet.tmp"])
def test_drop_unknown_extension(tmp_path, name):
    message = refused(drop(tmp_path, name, MAGNET))
    assert "drop a .torrent, .magnet, .txt or .url file" in message


def test_drop_directory(tmp_path):
    path = tmp_path / "folder.torrent"
    path.mkdir()
    assert "is a folder" in refused(path)


def test_drop_symlinks_are_refused_even_to_good_files(tmp_path):
    passwd = tmp_path / "passwd.torrent"
    passwd.symlink_to("/etc/passwd")
    assert "symbolic link" in refused(passwd)
    good = drop(tmp_path, "good.magnet", MAGNET)
    link = tmp_path / "link.magnet"
    link.symlink_to(good)
    assert "symbolic link" in refused(link)
    dangling = tmp_path / "dangling.magnet"
    dangling.symlink_to(tmp_path / "nowhere")
    assert "symbolic link" in refused(dangling)


def test_drop_fifo_is_refused_without_blocking(tmp_path):
    path = tmp_path / "pipe.magnet"
    os.mkfifo(path)
    assert "not a regular file" in refused(path)


def test_drop_missing_file(tmp_path):
    assert "is gone" in refused(tmp_path / "vanished.magnet")


def test_drop_permission_error_is_an_intake_error(tmp_path, monkeypatch):
    path = drop(tmp_path, "secret.magnet", MAGNET)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(sources_module.os, "open", denied)
    assert "cannot be read: permission denied" in refused(path)


@pytest.mark.parametrize("suffix", DROP_SUFFIXES)
def test_drop_too_big_is_refused_by_size_before_reading(tmp_path, monkeypatch, suffix):
    path = tmp_path / f"huge{suffix}"
    with open(path, "wb") as handle:
        handle.truncate(MAX_TORRENT_BYTES + 1)  # sparse: no 10 MB written

    def no_open(*args, **kwargs):
        raise AssertionError("the file was opened")

    monkeypatch.setattr(sources_module.os, "open", no_open)
    assert "too big (10,485,761 bytes)" in refused(path)


def test_drop_at_the_limit_is_read(tmp_path):
    path = tmp_path / "big.txt"
    padding = "#" * (MAX_TORRENT_BYTES - len(MAGNET) - 1)
    path.write_text(padding + "\n" + MAGNET)
    assert path.stat().st_size == MAX_TORRENT_BYTES
    assert read_drop(path).key == f"btih:{HASH}"


def test_drop_name_with_control_characters_is_escaped_in_the_message(tmp_path):
    path = drop(tmp_path, "evil\nINFO fake log line.magnet", "nope")
    with pytest.raises(IntakeError) as caught:
        read_drop(path)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(repr(path.name))


def test_drop_accepts_a_str_path(tmp_path):
    path = drop(tmp_path, "x.magnet", MAGNET)
    assert read_drop(str(path)).key == f"btih:{HASH}"


def test_intake_errors_chain_their_cause(tmp_path):
    with pytest.raises(IntakeError) as caught:
        read_drop(drop(tmp_path, "x.torrent", raw_torrent(pieces=None)))
    assert isinstance(caught.value.__cause__, IntakeError)
    assert isinstance(caught.value.__cause__.__cause__, torf.TorfError)
