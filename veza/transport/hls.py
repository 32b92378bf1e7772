"""HLS delivery: playlists and segments, authorised by the signed token carried in the query of
every URI (see veza/tracks/playback.py), so players that send no headers of ours (VLC, Safari,
ffplay) can play."""

from __future__ import annotations

from quart import Blueprint, Response, request
from quart_schema import hide

from veza.tracks import HlsFile, Playback
from veza.tracks.playback import MASTERS
from veza.transport.context import services

blueprint = Blueprint("hls", __name__)
MP3_MASTER = MASTERS["mp3"]


def master_path(grant: Playback, master: str) -> str:
    """The path of one of a track's master playlists, carrying the grant's token."""
    return f"/hls/{grant.track_id}/{grant.generation}/{master}?token={grant.token}"


def _token() -> str:
    return request.args.get("token", "")


def _response(found: HlsFile, *, playlist: bool) -> Response:
    response = Response(found.body, content_type=found.content_type)
    if not found.final:
        response.headers["Cache-Control"] = "no-cache"  # still being written
    elif playlist:
        response.headers["Cache-Control"] = "private, max-age=3600"
    else:
        response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    return response


# Generations are numbers: `int` in the rule, so no other string reaches the service.
@blueprint.get("/hls/<track_id>/<int:generation>/<name>")
@hide
async def master_playlist(track_id: str, generation: int, name: str) -> Response:
    found = await services().tracks.hls_playlist(track_id, generation, _token(), name, None)
    return _response(found, playlist=True)


@blueprint.get("/hls/<track_id>/<int:generation>/<rendition>/index.m3u8")
@hide
async def media_playlist(track_id: str, generation: int, rendition: str) -> Response:
    found = await services().tracks.hls_playlist(
        track_id, generation, _token(), "index.m3u8", rendition
    )
    return _response(found, playlist=True)


@blueprint.get("/hls/<track_id>/<int:generation>/<rendition>/<segment>")
@hide
async def segment_file(track_id: str, generation: int, rendition: str, segment: str) -> Response:
    # Segments are small and immutable: one read in a thread, sent as one body.
    found = await services().tracks.hls_segment(track_id, generation, _token(), rendition, segment)
    return _response(found, playlist=False)
