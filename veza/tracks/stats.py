"""Listening stats: listens reported by players, plays counted from them, likes, and the
top lists made of both. Every track read goes through the catalogue's read rule."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from veza.accounts import Principal
from veza.errors import Conflict, NotFound, VezaError
from veza.store import Store
from veza.store.stats import Ranked
from veza.store.tracks import Track
from veza.tracks.service import Tracks
from veza.tracks.visibility import is_listed

__all__ = ["PERIODS", "ListenState", "MyStats", "Ranked", "Stats", "TrackStats", "play_threshold"]

# A listen counts as a play once it reached this many seconds, or half the track if shorter.
PLAY_SECONDS = 30.0
DAY_S = 86_400.0
PERIODS: dict[str, float | None] = {
    "week": 7 * DAY_S,
    "month": 30 * DAY_S,
    "year": 365 * DAY_S,
    "all": None,
}
TOP_LIMIT = 10


@dataclass(frozen=True)
class ListenState:
    listen_id: str
    track_id: str
    seconds: float
    counted: bool


@dataclass(frozen=True)
class TrackStats:
    plays: int
    listeners: int
    likes: int
    liked: bool


@dataclass(frozen=True)
class MyStats:
    period: str
    seconds: float
    plays: int
    tracks: list[tuple[Track, Ranked]]
    artists: list[Ranked]
    albums: list[Ranked]


def play_threshold(duration_s: float | None) -> float:
    """Seconds a listen needs to count: 30, or half the track when that comes first."""
    if duration_s is None or duration_s <= 0:
        return PLAY_SECONDS
    return min(PLAY_SECONDS, duration_s / 2)


class Stats:
    def __init__(
        self, store: Store, tracks: Tracks, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._tracks = tracks
        self._clock = clock

    async def _readable(self, principal: Principal, track_id: str) -> Track:
        """The track if `principal` may read it, NotFound otherwise: the catalogue's one read
        rule (veza/tracks/visibility.py)."""
        return await self._tracks.visible(principal, track_id)

    async def _listed_or_none(self, principal: Principal, track_id: str) -> Track | None:
        """The track if lists may show it to `principal` (public, or theirs): top lists never
        name an unlisted or private track of someone else."""
        try:
            track = await self._tracks.get(track_id)
        except NotFound:
            return None
        return track if is_listed(principal, track) else None

    def _since(self, period: str) -> float:
        span = PERIODS[period]
        return 0.0 if span is None else self._clock() - span

    async def report(
        self, principal: Principal, track_id: str, listen_id: str, seconds: float
    ) -> ListenState:
        """Progress of one listen: the furthest point reported is kept, and the listen counts
        as one play once it reached the threshold, however often or concurrently it is reported.
        Conflict when the caller already used `listen_id` for another track."""
        track = await self._readable(principal, track_id)
        if track.duration_s is not None:
            seconds = min(seconds, track.duration_s)
        counts = seconds >= play_threshold(track.duration_s)
        async with self._store.transaction() as tx:
            listen = await tx.stats.report(
                principal.user.id, listen_id, track.id, seconds, counts, self._clock()
            )
        if listen is None:
            raise Conflict("this listen_id is already one of your listens of another track")
        return ListenState(listen_id, listen.track_id, listen.seconds, listen.counted)

    async def like(self, principal: Principal, track_id: str) -> None:
        track = await self._readable(principal, track_id)
        await self._store.stats.like(principal.user.id, track.id, self._clock())

    async def unlike(self, principal: Principal, track_id: str) -> None:
        track = await self._readable(principal, track_id)
        await self._store.stats.unlike(principal.user.id, track.id)

    async def track_stats(self, principal: Principal, track_id: str) -> TrackStats:
        track = await self._readable(principal, track_id)
        counts = await self._store.stats.track_counts(track.id)
        liked = await self._store.stats.likes(principal.user.id, track.id)
        return TrackStats(counts.plays, counts.listeners, counts.likes, liked)

    async def mine(self, principal: Principal, period: str) -> MyStats:
        """The caller's listening over `period` (week, month, year, all)."""
        if period not in PERIODS:
            raise VezaError("unknown period")  # the route validates it first
        user_id, since = principal.user.id, self._since(period)
        seconds, plays = await self._store.stats.listening(user_id, since)
        ranked = await self._store.stats.top_tracks(user_id, since, TOP_LIMIT * 2)
        return MyStats(
            period=period,
            seconds=seconds,
            plays=plays,
            tracks=await self._visible(principal, ranked),
            artists=await self._store.stats.top_artists(user_id, since, TOP_LIMIT),
            albums=await self._store.stats.top_albums(user_id, since, TOP_LIMIT),
        )

    async def top(self, principal: Principal, period: str) -> list[tuple[Track, Ranked]]:
        """Everyone's most played tracks over `period`, those the caller may read."""
        ranked = await self._store.stats.top_tracks(None, self._since(period), TOP_LIMIT * 3)
        return await self._visible(principal, ranked)

    async def _visible(
        self, principal: Principal, ranked: list[Ranked]
    ) -> list[tuple[Track, Ranked]]:
        found: list[tuple[Track, Ranked]] = []
        for entry in ranked:
            track = await self._listed_or_none(principal, entry.key)
            if track is not None:
                found.append((track, entry))
            if len(found) == TOP_LIMIT:
                break
        return found
