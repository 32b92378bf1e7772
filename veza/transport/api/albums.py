"""Album and artist routes: lists, one album with its tracks, one artist with its albums and
top tracks, album covers. Derived from the tracks' tags; each shows only what the caller's
track lists show."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from quart import Blueprint, Response
from quart_schema import tag_blueprint, validate_querystring, validate_response

from veza.accounts import Permission
from veza.tracks.albums import AlbumRow, Albums
from veza.tracks.covers import MAX_BYTES, MAX_PIXELS
from veza.transport.api.tracks import (
    COVER_TYPES,
    CoverQuery,
    TrackOut,
    cover_body,
    cover_response,
    track_out,
)
from veza.transport.context import services
from veza.transport.guard import current_principal, require
from veza.transport.openapi import accepts, errors, responds
from veza.transport.pagination import Page, PageQuery, page_of

blueprint = Blueprint("albums", __name__)
tag_blueprint(blueprint, ["albums"])


class AlbumOut(BaseModel):
    id: str
    title: str
    artist: str = Field(description="the album artist, or the artist of its tracks")
    artist_id: str
    year: int | None
    genre: str
    track_count: int = Field(description="tracks the caller sees")
    duration_s: float = Field(description="of the tracks the caller sees")
    cover_url: str | None = Field(description="null when neither the album nor a track has one")


class AlbumDetail(AlbumOut):
    tracks: list[TrackOut] = Field(description="in disc, then track order")


class ArtistOut(BaseModel):
    id: str
    name: str
    album_count: int
    track_count: int


class ArtistDetail(ArtistOut):
    albums: list[AlbumOut] = Field(description="as album artist, newest year first")
    top_tracks: list[TrackOut] = Field(
        description="the most played (plays of every listener), then the newest"
    )


class AlbumQuery(PageQuery):
    sort: Literal["newest", "name", "artist", "year", "most_played"] = Field(
        default="name", description="most_played: by plays of every listener, then the newest"
    )


def _albums() -> Albums:
    return services().albums


def album_out(summary: AlbumRow) -> AlbumOut:
    cover = summary.cover_track_id is not None or summary.own_cover
    return AlbumOut(
        id=summary.id,
        title=summary.title,
        artist=summary.artist,
        artist_id=summary.artist_id,
        year=summary.year,
        genre=summary.genre,
        track_count=summary.tracks,
        duration_s=summary.duration_s,
        cover_url=f"/api/v1/albums/{summary.id}/cover" if cover else None,
    )


@blueprint.get("/api/v1/albums")
@require(Permission.READ)
@validate_querystring(AlbumQuery)
@validate_response(Page[AlbumOut])
async def list_albums(query_args: AlbumQuery) -> Page[AlbumOut]:
    """Albums with a track the caller's lists show, sorted (`sort`)."""
    principal = current_principal()
    items, next_cursor = await page_of(
        query_args,
        _albums().cursor_shape(query_args.sort),
        lambda after, limit: _albums().albums(principal, query_args.sort, after, limit),
        lambda found: found[1],
    )
    return Page[AlbumOut](items=[album_out(row) for row, _ in items], next_cursor=next_cursor)


@blueprint.get("/api/v1/albums/<album_id>")
@require(Permission.READ)
@validate_response(AlbumDetail)
async def get_album(album_id: str) -> AlbumDetail:
    """An album, its tracks in disc and track order, and its total duration."""
    album = await _albums().album(current_principal(), album_id)
    summary = album_out(album.summary)
    tracks = [await track_out(track) for track in album.tracks]
    return AlbumDetail(**summary.model_dump(), tracks=tracks)


@blueprint.get("/api/v1/albums/<album_id>/cover")
@require(Permission.READ)
@validate_querystring(CoverQuery)
@responds(200, "the cover as JPEG", media_types=("image/jpeg",), headers={"ETag": "content"})
@responds(304, "not modified since the copy the client has (If-None-Match)")
async def album_cover(album_id: str, query_args: CoverQuery) -> Response:
    """The album's cover, else that of its first track with one; 404 when there is none."""
    return cover_response(await _albums().cover(current_principal(), album_id, query_args.size))


@blueprint.put("/api/v1/albums/<album_id>/cover")
@require()
@accepts(
    COVER_TYPES,
    f"the image (at most {MAX_BYTES // (1024 * 1024)} MB, {MAX_PIXELS // 1_000_000} million "
    "pixels), as the body",
)
@errors(
    403,
    413,
    415,
    422,
    why={
        403: "forbidden: only an owner of one of its tracks, a moderator or an admin may",
        415: "unsupported_media_type: not an image type we take, or not an image we can read",
        422: "validation_failed: the image is empty, damaged, truncated or too many pixels",
    },
)
@responds(204, "the cover is stored")
async def put_album_cover(album_id: str) -> tuple[str, int]:
    """Set the album's cover: decoded and re-encoded in sizes 64 to 1024."""
    await _albums().set_cover(current_principal(), album_id, await cover_body())
    return "", 204


@blueprint.get("/api/v1/artists")
@require(Permission.READ)
@validate_querystring(PageQuery)
@validate_response(Page[ArtistOut])
async def list_artists(query_args: PageQuery) -> Page[ArtistOut]:
    """Artists credited (as artist or album artist) on a track the caller's lists show, by
    name."""
    principal = current_principal()
    items, next_cursor = await page_of(
        query_args,
        (str, str),
        lambda after, limit: _albums().artists(principal, after, limit),
        lambda found: found[1],
    )
    return Page[ArtistOut](
        items=[
            ArtistOut(id=a.id, name=a.name, album_count=a.albums, track_count=a.tracks)
            for a, _ in items
        ],
        next_cursor=next_cursor,
    )


@blueprint.get("/api/v1/artists/<artist_id>")
@require(Permission.READ)
@validate_response(ArtistDetail)
async def get_artist(artist_id: str) -> ArtistDetail:
    """An artist, their albums and their top tracks."""
    artist = await _albums().artist(current_principal(), artist_id)
    summary = artist.summary
    return ArtistDetail(
        id=summary.id,
        name=summary.name,
        album_count=summary.albums,
        track_count=summary.tracks,
        albums=[album_out(row) for row in artist.albums],
        top_tracks=[await track_out(track) for track in artist.top_tracks],
    )
