"""Memory for HLS delivery, so a hot request touches neither the database nor the disk.

Two things are kept, each bounded:

- what the check of a request needs from its track's row (`ServedFiles`: the generations served
  and their rendition names), for `check_ttl_s` seconds at most. This process drops it as soon
  as it changes a track (`forget` on delete, `stale` when a transcode settles); another process
  sharing a PostgreSQL database may change a row too, and the short lifetime bounds how long
  that goes unseen. A request for a generation or a rendition the kept copy does not know asks
  the database again before answering 404, so a generation that has just started is never
  missed.
- the bytes of immutable files: segments and finished playlists of settled generations (a
  generation being written may be started over by a retried job, and a playlist still being
  appended changes with every segment: neither is kept). Least recently used first out, by
  bytes, within `max_bytes`.

Concurrent misses for the same thing wait for one load instead of each doing it. `forget`
drops a track at once: loads already under way when it runs are not kept, and requests after it
load again (and find the track gone).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import TypeVar

import trio

from veza.tracks.playback import ServedFiles, SignablePlaylist

# (track, generation, rendition or "" for a master playlist, file name)
FileKey = tuple[str, int, str, str]
Cached = bytes | SignablePlaylist
T = TypeVar("T")

DEFAULT_MAX_TRACKS = 10_000  # rows kept at most: far more tracks than play at once


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    entries: int
    bytes: int
    rows: int


class _Flight:
    """One load that others wait for."""

    def __init__(self, track_id: str) -> None:
        self.track_id = track_id
        self.done = trio.Event()
        self.succeeded = False
        self.result: object = None


@dataclass(frozen=True)
class _Row:
    expires: float
    served: ServedFiles | None


class HlsCache:
    def __init__(
        self,
        max_bytes: int,
        check_ttl_s: float,
        *,
        max_tracks: int = DEFAULT_MAX_TRACKS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_bytes = max_bytes
        self._check_ttl_s = check_ttl_s
        self._max_tracks = max_tracks
        self._clock = clock
        self._rows: OrderedDict[str, _Row] = OrderedDict()
        self._files: OrderedDict[FileKey, Cached] = OrderedDict()
        self._by_track: dict[str, set[FileKey]] = {}
        self._bytes = 0
        self._flights: dict[Hashable, _Flight] = {}
        self._epoch = 0  # moves on at every forget/stale: a load that began before is not kept
        self._hits = 0
        self._misses = 0

    def stats(self) -> CacheStats:
        return CacheStats(self._hits, self._misses, len(self._files), self._bytes, len(self._rows))

    # What the check needs from a track's row

    async def served(
        self,
        track_id: str,
        load: Callable[[], Awaitable[ServedFiles | None]],
        *,
        fresh: bool = False,
    ) -> ServedFiles | None:
        """The track's `ServedFiles` (None: no such track), kept for `check_ttl_s`, or loaded
        (once for all who ask at the same time). `fresh` loads it again whatever is kept."""
        row = self._rows.get(track_id)
        if row is not None and not fresh:
            if row.expires > self._clock():
                self._rows.move_to_end(track_id)
                return row.served
            del self._rows[track_id]

        async def load_and_keep() -> ServedFiles | None:
            epoch = self._epoch
            served = await load()
            if self._check_ttl_s > 0 and epoch == self._epoch:
                self._rows[track_id] = _Row(self._clock() + self._check_ttl_s, served)
                self._rows.move_to_end(track_id)
                while len(self._rows) > self._max_tracks:
                    self._rows.popitem(last=False)
            return served

        key = ("row", track_id, fresh)
        return await self._once(key, track_id, load_and_keep)

    def stale(self, track_id: str) -> None:
        """The track's row changed (a generation settled): check it again. Its settled files
        are still what they were."""
        self._epoch += 1
        self._rows.pop(track_id, None)
        self._drop_flights(track_id, rows_only=True)

    def forget(self, track_id: str) -> None:
        """The track is gone: nothing of it is served from memory from now on."""
        self._epoch += 1
        self._rows.pop(track_id, None)
        for key in self._by_track.pop(track_id, ()):
            self._bytes -= _size(self._files.pop(key))
        self._drop_flights(track_id, rows_only=False)

    # Files

    async def segment(
        self, key: FileKey, load: Callable[[], Awaitable[tuple[bytes | None, bool]]]
    ) -> bytes | None:
        """The segment kept under `key`, or `load()`: (its bytes, or None when there is no
        such file; whether they may be kept)."""
        found = await self._file(key, load)
        assert found is None or isinstance(found, bytes)
        return found

    async def playlist(
        self, key: FileKey, load: Callable[[], Awaitable[tuple[SignablePlaylist | None, bool]]]
    ) -> SignablePlaylist | None:
        found = await self._file(key, load)
        assert found is None or isinstance(found, SignablePlaylist)
        return found

    async def _file(
        self, key: FileKey, load: Callable[[], Awaitable[tuple[Cached | None, bool]]]
    ) -> Cached | None:
        found = self._files.get(key)
        if found is not None:
            self._files.move_to_end(key)
            self._hits += 1
            return found
        self._misses += 1

        async def load_and_keep() -> Cached | None:
            epoch = self._epoch
            contents, immutable = await load()
            if contents is not None and immutable and epoch == self._epoch:
                self._keep(key, contents)
            return contents

        return await self._once(("file", key), key[0], load_and_keep)

    def _keep(self, key: FileKey, contents: Cached) -> None:
        size = _size(contents)
        if size > self.max_bytes or key in self._files:
            return
        self._files[key] = contents
        self._by_track.setdefault(key[0], set()).add(key)
        self._bytes += size
        while self._bytes > self.max_bytes:
            old_key, old = self._files.popitem(last=False)
            self._bytes -= _size(old)
            keys = self._by_track[old_key[0]]
            keys.discard(old_key)
            if not keys:
                del self._by_track[old_key[0]]

    # One load for all who ask at once

    async def _once(self, key: Hashable, track_id: str, load: Callable[[], Awaitable[T]]) -> T:
        while True:
            flight = self._flights.get(key)
            if flight is None:
                break
            await flight.done.wait()
            if flight.succeeded:
                return flight.result  # type: ignore[return-value]
            # The loader was cancelled (its client went away) or met an unexpected error, which
            # was its own to report: load again.
        flight = _Flight(track_id)
        self._flights[key] = flight
        try:
            result = await load()
            flight.result, flight.succeeded = result, True
            return result
        finally:
            if self._flights.get(key) is flight:
                del self._flights[key]
            flight.done.set()

    def _drop_flights(self, track_id: str, *, rows_only: bool) -> None:
        """Loads of the track under way are left to finish for those already waiting, but
        whoever asks from now on starts a new one."""
        for key in [k for k, f in self._flights.items() if f.track_id == track_id]:
            if not rows_only or (isinstance(key, tuple) and key[0] == "row"):
                del self._flights[key]


def _size(contents: Cached) -> int:
    return len(contents) if isinstance(contents, bytes) else contents.size
