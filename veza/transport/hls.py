"""HLS delivery: playlists and segments, authorised by the signed token carried in the query of
every URI (see veza/tracks/playback.py), so players that send no headers of ours (VLC, Safari,
ffplay) can play."""

from __future__ import annotations

from quart import Blueprint, Response, request
from quart_schema import hide

from veza.tracks import HlsFile, Playback
from veza.transport.context import services

blueprint = Blueprint("hls", __name__)


def master_path(grant: Playback) -> str:
    """The path of a track's master playlist, carrying the grant's token."""
    return f"/hls/{grant.track_id}/master.m3u8?token={grant.token}"


def _token() -> str:
    return request.args.get("token", "")


def _response(found: HlsFile, *, playlist: bool) -> Response:
    response = Response(found.body, content_type=found.content_type)
    if not found.final:
        response.headers["Cache-Control"] = "no-cache"  # a playlist still being appended to
    elif playlist:
        response.headers["Cache-Control"] = "private, max-age=3600"
    else:
        response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    return response


@blueprint.get("/hls/<track_id>/master.m3u8")
@hide
async def master_playlist(track_id: str) -> Response:
    found = await services().tracks.hls_playlist(track_id, _token(), None)
    return _response(found, playlist=True)


@blueprint.get("/hls/<track_id>/<rendition>/index.m3u8")
@hide
async def media_playlist(track_id: str, rendition: str) -> Response:
    found = await services().tracks.hls_playlist(track_id, _token(), rendition)
    return _response(found, playlist=True)


@blueprint.get("/hls/<track_id>/<rendition>/<segment>")
@hide
async def segment_file(track_id: str, rendition: str, segment: str) -> Response:
    # Segments are small and immutable: one read in a thread, sent as one body.
    found = await services().tracks.hls_segment(track_id, _token(), rendition, segment)
    return _response(found, playlist=False)
