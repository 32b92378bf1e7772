"""The HLS cache on its own: the byte bound and least-recently-used order, what is never kept,
one load for concurrent misses, the row lifetime, and forgetting a track at once, loads under
way included."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio
import trio.testing

from veza.tracks.cache import FileKey, HlsCache
from veza.tracks.playback import ServedFiles, SignablePlaylist, signable

TRACK = "0123456789abcdef01234567"
OTHER = "f" * 24


def key(name: str, track: str = TRACK) -> FileKey:
    return (track, 1, "aac_128", name)


def served(track: str = TRACK) -> ServedFiles:
    return ServedFiles(track, {1: frozenset({"aac_128"})}, frozenset({1}))


class Loads:
    """Counts loads and hands out given contents."""

    def __init__(self) -> None:
        self.count = 0

    def of(
        self, body: bytes | None, immutable: bool = True
    ) -> Callable[[], Awaitable[tuple[bytes | None, bool]]]:
        async def load() -> tuple[bytes | None, bool]:
            self.count += 1
            await trio.lowlevel.checkpoint()
            return body, immutable

        return load


async def test_files_stay_within_the_byte_bound_least_recently_used_first() -> None:
    cache = HlsCache(max_bytes=250, check_ttl_s=2)
    loads = Loads()
    for name in ("a", "b"):
        await cache.segment(key(name), loads.of(b"x" * 100))
    await cache.segment(key("a"), loads.of(b"never"))  # a hit: "a" is now the most recent
    await cache.segment(key("c"), loads.of(b"z" * 100))  # 300 bytes: the oldest ("b") goes
    assert cache.stats().bytes == 200 and cache.stats().entries == 2
    assert await cache.segment(key("a"), loads.of(b"reloaded")) == b"x" * 100
    assert await cache.segment(key("b"), loads.of(b"reloaded")) == b"reloaded"
    assert loads.count == 4
    assert cache.stats().bytes <= 250


async def test_what_may_change_or_does_not_fit_is_never_kept() -> None:
    cache = HlsCache(max_bytes=100, check_ttl_s=2)
    loads = Loads()
    for _ in range(2):
        assert await cache.segment(key("big"), loads.of(b"x" * 101)) == b"x" * 101
        assert await cache.segment(key("growing"), loads.of(b"y", immutable=False)) == b"y"
        assert await cache.segment(key("missing"), loads.of(None)) is None
    assert loads.count == 6
    assert cache.stats().entries == 0 and cache.stats().bytes == 0


async def test_a_playlist_is_kept_once_and_signed_per_token() -> None:
    cache = HlsCache(max_bytes=10_000, check_ttl_s=2)
    text = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.0,\n0.aac\n#EXT-X-ENDLIST\n"
    loaded = 0

    async def load() -> tuple[SignablePlaylist | None, bool]:
        nonlocal loaded
        loaded += 1
        return signable(text), True

    first = await cache.playlist(key("index.m3u8"), load)
    second = await cache.playlist(key("index.m3u8"), load)
    assert first is second and loaded == 1 and first is not None
    assert first.signed("1.A").decode().splitlines()[-2] == "0.aac?token=1.A"
    assert first.signed("2.B").decode().splitlines()[-2] == "0.aac?token=2.B"
    assert first.ended
    assert cache.stats().bytes == first.size


async def test_concurrent_misses_share_one_load() -> None:
    cache = HlsCache(max_bytes=1000, check_ttl_s=2)
    release = trio.Event()
    loads = 0

    async def slow() -> tuple[bytes | None, bool]:
        nonlocal loads
        loads += 1
        await release.wait()
        return b"segment", True

    results: list[bytes | None] = []

    async def ask() -> None:
        results.append(await cache.segment(key("0.aac"), slow))

    async with trio.open_nursery() as nursery:
        for _ in range(20):
            nursery.start_soon(ask)
        await trio.testing.wait_all_tasks_blocked()
        release.set()
    assert loads == 1 and results == [b"segment"] * 20


async def test_a_cancelled_load_leaves_the_next_caller_to_load() -> None:
    cache = HlsCache(max_bytes=1000, check_ttl_s=2)

    async def stuck() -> tuple[bytes | None, bool]:
        await trio.sleep_forever()
        raise AssertionError

    with trio.move_on_after(0.01):
        await cache.segment(key("0.aac"), stuck)
    loads = Loads()
    assert await cache.segment(key("0.aac"), loads.of(b"fresh")) == b"fresh"
    assert loads.count == 1


async def test_the_row_is_kept_for_its_lifetime() -> None:
    now = [100.0]
    cache = HlsCache(max_bytes=1000, check_ttl_s=2, clock=lambda: now[0])
    loads = 0

    async def load() -> ServedFiles | None:
        nonlocal loads
        loads += 1
        return served()

    for _ in range(3):
        assert await cache.served(TRACK, load) == served()
    assert loads == 1
    now[0] += 2.5
    await cache.served(TRACK, load)
    assert loads == 2
    await cache.served(TRACK, load, fresh=True)  # asked for anew whatever is kept
    assert loads == 3
    cache.stale(TRACK)
    await cache.served(TRACK, load)
    assert loads == 4

    unkept = HlsCache(max_bytes=1000, check_ttl_s=0)  # 0: the database every time
    for _ in range(2):
        await unkept.served(TRACK, load)
    assert loads == 6


async def test_the_rows_kept_are_bounded() -> None:
    cache = HlsCache(max_bytes=1000, check_ttl_s=60, max_tracks=3)

    async def load() -> ServedFiles | None:
        return None

    for index in range(10):
        await cache.served(f"{index:024x}", load)
    assert cache.stats().rows == 3


async def test_forgetting_a_track_drops_its_files_and_what_was_loading() -> None:
    cache = HlsCache(max_bytes=1000, check_ttl_s=60)
    loads = Loads()
    await cache.segment(key("0.aac"), loads.of(b"kept"))
    await cache.segment(key("0.aac", OTHER), loads.of(b"other"))

    async def row() -> ServedFiles | None:
        return served()

    await cache.served(TRACK, row)
    release = trio.Event()

    async def loading() -> tuple[bytes | None, bool]:
        await release.wait()
        return b"read before the delete", True

    async with trio.open_nursery() as nursery:
        nursery.start_soon(cache.segment, key("1.aac"), loading)
        await trio.testing.wait_all_tasks_blocked()
        cache.forget(TRACK)  # the track is deleted while a read of it is under way
        release.set()

    assert cache.stats().entries == 1  # only the other track's file is left
    assert await cache.segment(key("0.aac"), loads.of(b"gone")) == b"gone"
    assert await cache.segment(key("1.aac"), loads.of(b"gone")) == b"gone"

    async def deleted() -> ServedFiles | None:
        return None

    assert await cache.served(TRACK, deleted) is None  # the kept row went with it
    assert await cache.segment(key("0.aac", OTHER), loads.of(b"never")) == b"other"
