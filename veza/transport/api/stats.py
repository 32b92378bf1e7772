"""Listening stats routes: listens and plays, likes, a track's counts, the caller's listening
and everyone's top tracks."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from quart import Blueprint
from quart_schema import tag_blueprint, validate_querystring, validate_request, validate_response

from veza.accounts import Permission
from veza.tracks import Track
from veza.tracks.stats import PLAY_SECONDS, ListenState, Ranked
from veza.transport.context import services
from veza.transport.guard import current_principal, require
from veza.transport.openapi import errors, responds

blueprint = Blueprint("stats", __name__)
tag_blueprint(blueprint, ["stats"])

Period = Literal["week", "month", "year", "all"]


class ListenReport(BaseModel):
    listen_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="picked by the client when playback starts; every report of that playback "
        "carries it",
    )
    seconds: float = Field(ge=0, le=86_400, description="how far the listen got, in seconds")


class ListenOut(BaseModel):
    listen_id: str
    track_id: str
    seconds: float = Field(description="the furthest point reported (at most the track's length)")
    counted: bool = Field(
        description=f"the listen counts as a play: it reached {PLAY_SECONDS:.0f} s or half the "
        "track, whichever comes first"
    )

    @classmethod
    def of(cls, listen: ListenState) -> ListenOut:
        return cls(
            listen_id=listen.listen_id,
            track_id=listen.track_id,
            seconds=listen.seconds,
            counted=listen.counted,
        )


class TrackStatsOut(BaseModel):
    plays: int
    listeners: int = Field(description="accounts with at least one play")
    likes: int
    liked: bool = Field(description="the caller likes the track")


class PeriodQuery(BaseModel):
    period: Period = "week"


class RankedTrack(BaseModel):
    id: str
    title: str
    artist: str
    album: str
    plays: int
    seconds: float = Field(description="listening time over the period")

    @classmethod
    def of(cls, track: Track, ranked: Ranked) -> RankedTrack:
        return cls(
            id=track.id,
            title=track.title,
            artist=track.artist,
            album=track.album,
            plays=ranked.plays,
            seconds=round(ranked.seconds, 3),
        )


class RankedArtist(BaseModel):
    artist: str
    plays: int
    seconds: float


class RankedAlbum(BaseModel):
    artist: str
    album: str
    plays: int
    seconds: float


class MyStatsOut(BaseModel):
    period: Period
    seconds: float = Field(description="listening time over the period")
    plays: int
    top_tracks: list[RankedTrack]
    top_artists: list[RankedArtist]
    top_albums: list[RankedAlbum]


class TopOut(BaseModel):
    period: Period
    items: list[RankedTrack]


@blueprint.post("/api/v1/tracks/<track_id>/plays")
@require(Permission.STREAM)
@errors(
    409,
    why={409: "conflict: the listen_id is already one of the caller's listens of another track"},
)
@validate_request(ListenReport)
@validate_response(ListenOut)
async def report_listen(track_id: str, data: ListenReport) -> ListenOut:
    """Report how far a listen got. Reports under one `listen_id` make one listen, which
    counts as one play once it reached 30 s or half the track: repeat them freely."""
    listen = await services().stats.report(
        current_principal(), track_id, data.listen_id, data.seconds
    )
    return ListenOut.of(listen)


@blueprint.put("/api/v1/tracks/<track_id>/like")
@require(Permission.READ)
@responds(204, "the caller likes the track")
async def like_track(track_id: str) -> tuple[str, int]:
    """Like a track (again: no change)."""
    await services().stats.like(current_principal(), track_id)
    return "", 204


@blueprint.delete("/api/v1/tracks/<track_id>/like")
@require(Permission.READ)
@responds(204, "the caller does not like the track")
async def unlike_track(track_id: str) -> tuple[str, int]:
    """Take back a like (none: no change)."""
    await services().stats.unlike(current_principal(), track_id)
    return "", 204


@blueprint.get("/api/v1/tracks/<track_id>/stats")
@require(Permission.READ)
@validate_response(TrackStatsOut)
async def track_stats(track_id: str) -> TrackStatsOut:
    """Plays, listeners and likes of a track."""
    found = await services().stats.track_stats(current_principal(), track_id)
    return TrackStatsOut(
        plays=found.plays, listeners=found.listeners, likes=found.likes, liked=found.liked
    )


@blueprint.get("/api/v1/me/stats")
@require()
@validate_querystring(PeriodQuery)
@validate_response(MyStatsOut)
async def my_stats(query_args: PeriodQuery) -> MyStatsOut:
    """The caller's listening over the period (week, month, year or all): time, plays, and
    the most played tracks, artists and albums."""
    mine = await services().stats.mine(current_principal(), query_args.period)
    return MyStatsOut(
        period=query_args.period,
        seconds=round(mine.seconds, 3),
        plays=mine.plays,
        top_tracks=[RankedTrack.of(track, ranked) for track, ranked in mine.tracks],
        top_artists=[
            RankedArtist(artist=r.name, plays=r.plays, seconds=round(r.seconds, 3))
            for r in mine.artists
        ],
        top_albums=[
            RankedAlbum(artist=r.key, album=r.name, plays=r.plays, seconds=round(r.seconds, 3))
            for r in mine.albums
        ],
    )


@blueprint.get("/api/v1/stats/top")
@require(Permission.READ)
@validate_querystring(PeriodQuery)
@validate_response(TopOut)
async def top_tracks(query_args: PeriodQuery) -> TopOut:
    """The most played tracks over the period, of those the caller may see."""
    top = await services().stats.top(current_principal(), query_args.period)
    return TopOut(
        period=query_args.period, items=[RankedTrack.of(track, ranked) for track, ranked in top]
    )
