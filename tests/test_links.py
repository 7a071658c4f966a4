"""Signed stream links: the secret file, signatures, .strm contents and the URL cache."""

from __future__ import annotations

import logging
import os
import stat
import threading
from urllib.parse import unquote, urlsplit

import pytest

from putbridge.errors import ConfigError, TransientError
from putbridge.library.links import (
    SECRET_FILE,
    LinkSigner,
    StreamUrlCache,
    StrmLinks,
    load_or_create_secret,
)
from putbridge.putio.models import File

SECRET = bytes(range(32))
PUBLIC = "http://192.168.1.10:9091"


def video(file_id: int = 42, name: str = "Movie (2010).mkv") -> File:
    return File(id=file_id, name=name, file_type="VIDEO")


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# ---- the secret ---------------------------------------------------------------------------


def test_secret_is_created_private_and_reused(tmp_path):
    state = tmp_path / "state"
    secret = load_or_create_secret(state)
    path = state / SECRET_FILE
    assert len(secret) == 32
    assert mode_of(path) == 0o600
    assert mode_of(state) == 0o700
    text = path.read_text()
    assert text.strip() == secret.hex()
    assert len(text.strip()) == 64
    assert load_or_create_secret(state) == secret
    assert not [p for p in state.iterdir() if p.name != SECRET_FILE]  # no temp files left


def test_secrets_differ_between_state_dirs(tmp_path):
    assert load_or_create_secret(tmp_path / "a") != load_or_create_secret(tmp_path / "b")


def test_racing_first_runs_agree_on_one_secret(tmp_path):
    barrier = threading.Barrier(8)
    results: list[bytes] = []

    def run() -> None:
        barrier.wait()
        results.append(load_or_create_secret(tmp_path))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and len(set(results)) == 1
    assert (tmp_path / SECRET_FILE).read_text().strip() == results[0].hex()


@pytest.mark.parametrize(
    "content",
    [b"", b"not hex at all", b"ab" * 31 + b"a", b"ab" * 33, b"\xff\xfe" * 32, b"zz" * 32],
)
def test_a_damaged_secret_is_an_error_naming_the_file(tmp_path, content):
    path = tmp_path / SECRET_FILE
    path.write_bytes(content)
    os.chmod(path, 0o600)
    with pytest.raises(ConfigError, match=SECRET_FILE) as info:
        load_or_create_secret(tmp_path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == content  # never silently replaced


def test_a_directory_in_place_of_the_secret_is_an_error(tmp_path):
    (tmp_path / SECRET_FILE).mkdir()
    with pytest.raises(ConfigError, match="not a regular file"):
        load_or_create_secret(tmp_path)


def test_a_secret_readable_by_others_is_made_private(tmp_path, caplog):
    path = tmp_path / SECRET_FILE
    path.write_text("AB" * 32 + "\n")
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING, logger="putbridge.links"):
        assert load_or_create_secret(tmp_path) == bytes([0xAB] * 32)
    assert mode_of(path) == 0o600
    assert any("0600" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records)


# ---- signatures ---------------------------------------------------------------------------


def test_signatures_are_deterministic_32_hex_and_differ_by_id():
    signer = LinkSigner(SECRET)
    sig = signer.sign(42)
    assert sig == LinkSigner(SECRET).sign(42)
    assert len(sig) == 32 and all(ch in "0123456789abcdef" for ch in sig)
    assert len({signer.sign(i) for i in range(1000)}) == 1000
    assert signer.verify(42, sig)


def test_signatures_depend_on_the_secret():
    assert LinkSigner(SECRET).sign(42) != LinkSigner(bytes(32)).sign(42)
    assert not LinkSigner(bytes(32)).verify(42, LinkSigner(SECRET).sign(42))


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "0" * 32,
        "abc",
        "g" * 32,
        "0" * 33,
        "0" * 31,
        "é" * 32,
        "٣" * 32,  # a digit to str.isdigit, not to us
        " " + "0" * 31,
        None,
        b"0" * 32,
    ],
)
def test_verify_rejects_malformed_signatures_without_raising(bad):
    assert LinkSigner(SECRET).verify(42, bad) is False


def test_verify_rejects_tampering():
    signer = LinkSigner(SECRET)
    sig = signer.sign(42)
    assert not signer.verify(43, sig)
    assert not signer.verify(42, signer.sign(43))
    assert not signer.verify(42, sig.upper())
    assert not signer.verify(42, sig[:-1] + ("0" if sig[-1] != "0" else "1"))
    assert not signer.verify(42, sig + "0")
    assert not signer.verify(-1, sig)
    assert not signer.verify(True, signer.sign(1))  # type: ignore[arg-type]


def test_signer_refuses_short_secrets_and_hides_its_secret():
    with pytest.raises(ValueError):
        LinkSigner(b"short")
    assert SECRET.hex() not in repr(LinkSigner(SECRET))


# ---- .strm contents -----------------------------------------------------------------------


def test_bridge_link_quotes_the_name():
    links = StrmLinks(LinkSigner(SECRET), PUBLIC + "/")
    sig = LinkSigner(SECRET).sign(42)
    name = "Am\u00e9lie / what? #1 100% done.mkv"
    text = links.text(video(42, name), "bridge")
    assert text.endswith("\n") and text.count("\n") == 1
    url = text.strip()
    assert url == (
        f"{PUBLIC}/stream/42/{sig}/Am%C3%A9lie%20%2F%20what%3F%20%231%20100%25%20done.mkv"
    )
    parts = urlsplit(url)
    assert not parts.query and not parts.fragment
    segments = parts.path.split("/")
    assert segments[1:4] == ["stream", "42", sig] and len(segments) == 5
    assert unquote(segments[4]) == name


def test_hls_and_proxy_links():
    signer = LinkSigner(SECRET)
    sig = signer.sign(7)
    links = StrmLinks(signer, "https://media.example.com/putbridge//")
    base = "https://media.example.com/putbridge"
    file = video(7, "Show S01E01.mkv")
    assert links.url(file, "hls") == f"{base}/stream/7/{sig}/media.m3u8"
    assert links.url(file, "proxy") == f"{base}/proxy/7/{sig}/Show%20S01E01.mkv"
    assert links.url(file, "bridge") == f"{base}/stream/7/{sig}/Show%20S01E01.mkv"


def test_a_file_named_like_the_hls_playlist_keeps_its_bytes_in_bridge_mode():
    links = StrmLinks(LinkSigner(SECRET), PUBLIC)
    assert not links.url(video(7, "media.m3u8"), "bridge").endswith("/media.m3u8")


def test_direct_links_use_the_callable_and_warn_once(caplog):
    calls = []

    def direct(file_id: int, name: str) -> str:
        calls.append((file_id, name))
        return f"https://api.put.io/v2/files/{file_id}/download?oauth_token=TOKEN"

    links = StrmLinks(LinkSigner(SECRET), PUBLIC, direct_url=direct)
    with caplog.at_level(logging.WARNING, logger="putbridge.links"):
        first = links.text(video(1, "A.mkv"), "direct")
        links.text(video(2, "B.mkv"), "direct")
        links.text(video(3, "C.mkv"), "bridge")
    assert first == "https://api.put.io/v2/files/1/download?oauth_token=TOKEN\n"
    assert calls == [(1, "A.mkv"), (2, "B.mkv")]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "token" in warnings[0].getMessage() and "every" in warnings[0].getMessage()
    # Another instance (another sync) warns again: the warning is per StrmLinks.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="putbridge.links"):
        StrmLinks(LinkSigner(SECRET), PUBLIC, direct_url=direct).text(video(), "direct")
    assert len(caplog.records) == 1


def test_direct_without_a_callable_and_unknown_modes_fail():
    links = StrmLinks(LinkSigner(SECRET), PUBLIC)
    with pytest.raises(ValueError, match="direct_url"):
        links.text(video(), "direct")
    with pytest.raises(ConfigError, match="library.links"):
        links.text(video(), "symlink")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://127.0.0.1:9091", "http://127.0.0.1:9091"),
        ("http://127.0.0.1:9091///", "http://127.0.0.1:9091"),
        ("HTTPS://Media.Example.com/pb/", "https://Media.Example.com/pb"),
        ("http://[::1]:9091/", "http://[::1]:9091"),
    ],
)
def test_public_url_is_normalised(given, expected):
    assert StrmLinks(LinkSigner(SECRET), given).public_url == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "127.0.0.1:9091",
        "ftp://example.com",
        "http://",
        "http:///path",
        "http://host:99999",
        "http://host:port",
        "http://host/?token=1",
        "http://host/#frag",
        "http://ho st:9091",
        "http://host\n",
        "file:///media",
    ],
)
def test_bad_public_url_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="public_url"):
        StrmLinks(LinkSigner(SECRET), bad)


# ---- the URL cache ------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def counting_fetch():
    calls: list[int] = []

    def fetch(file_id: int) -> str:
        calls.append(file_id)
        return f"https://storage.example/{file_id}/{len(calls)}"

    return fetch, calls


def test_cache_reuses_urls_until_the_ttl_passes():
    fetch, calls = counting_fetch()
    clock = Clock()
    cache = StreamUrlCache(fetch, ttl=100.0, now=clock)
    first = cache.get(1)
    clock.now += 99.0
    assert cache.get(1) == first
    assert cache.fetch_count == 1
    clock.now += 1.0
    second = cache.get(1)
    assert second != first
    assert cache.fetch_count == 2 and calls == [1, 1]


def test_cache_evicts_the_least_recently_used():
    fetch, calls = counting_fetch()
    cache = StreamUrlCache(fetch, max_entries=3)
    for file_id in (1, 2, 3):
        cache.get(file_id)
    cache.get(1)  # 2 is now the least recently used
    cache.get(4)
    assert len(cache) == 3
    assert cache.fetch_count == 4
    cache.get(1)
    cache.get(3)
    cache.get(4)
    assert cache.fetch_count == 4
    cache.get(2)
    assert cache.fetch_count == 5 and calls == [1, 2, 3, 4, 2]


def test_invalidate_forgets_one_url():
    fetch, _ = counting_fetch()
    cache = StreamUrlCache(fetch)
    first = cache.get(1)
    cache.get(2)
    cache.invalidate(1, "https://some.other/url")  # not the cached one: kept
    assert cache.get(1) == first
    cache.invalidate(1, first)
    assert cache.get(1) != first
    cache.invalidate(3)  # unknown ids are fine
    assert cache.fetch_count == 3
    cache.invalidate(2)
    cache.get(2)
    assert cache.fetch_count == 4


def test_a_failed_fetch_propagates_and_is_not_cached():
    attempts = []

    def fetch(file_id: int) -> str:
        attempts.append(file_id)
        if len(attempts) == 1:
            raise TransientError("put.io is down")
        return "https://storage.example/ok"

    cache = StreamUrlCache(fetch)
    with pytest.raises(TransientError):
        cache.get(5)
    assert cache.get(5) == "https://storage.example/ok"
    assert cache.fetch_count == 2


def _race(cache: StreamUrlCache, arrived: threading.Condition, counter: list[int]):
    results: list[object] = []

    def run() -> None:
        with arrived:
            counter[0] += 1
            arrived.notify_all()
        try:
            results.append(cache.get(9))
        except Exception as err:
            results.append(err)

    threads = [threading.Thread(target=run, name=f"get-{i}") for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


def _blocking_fetch(arrived: threading.Condition, counter: list[int], fail: bool):
    def fetch(file_id: int) -> str:
        # Hold the fetch until every thread has asked, so the others pile up behind it.
        with arrived:
            assert arrived.wait_for(lambda: counter[0] == 8, timeout=10)
        if fail:
            raise TransientError("put.io is down")
        return f"https://storage.example/{file_id}"

    return fetch


def test_concurrent_gets_of_one_id_make_one_fetch():
    arrived, counter = threading.Condition(), [0]
    cache = StreamUrlCache(_blocking_fetch(arrived, counter, fail=False))
    results = _race(cache, arrived, counter)
    assert results == ["https://storage.example/9"] * 8
    assert cache.fetch_count == 1


def test_concurrent_waiters_all_see_a_failed_fetch():
    arrived, counter = threading.Condition(), [0]
    cache = StreamUrlCache(_blocking_fetch(arrived, counter, fail=True))
    results = _race(cache, arrived, counter)
    assert len(results) == 8 and all(isinstance(r, TransientError) for r in results)
    assert cache.fetch_count <= 8  # never more than one per get, and nothing cached
    assert len(cache) == 0


def test_cache_arguments_are_checked():
    with pytest.raises(ValueError):
        StreamUrlCache(str, ttl=0)
    with pytest.raises(ValueError):
        StreamUrlCache(str, max_entries=0)
