"""HLS delivery: playlists and segments, authorised by the signed token carried in the query of
every URI (see veza/tracks/playback.py), so players that send no headers of ours (VLC, Safari,
ffplay) can play.

With `offload = "x-accel"`, a segment's bytes are left to the reverse proxy in front: Veza
checks the request as always and answers with `X-Accel-Redirect` to the proxy's internal
location for the media directory (docs/deployment.md). Playlists carry the token, so Veza always
sends them itself."""

from __future__ import annotations

from quart import Blueprint, Response, request
from quart_schema import hide

from veza.tracks import HlsFile, Playback
from veza.tracks.playback import MASTERS
from veza.transport.context import services

blueprint = Blueprint("hls", __name__)
MP3_MASTER = MASTERS["mp3"]
# The reverse proxy's `internal` location that serves the media directory (docs/deployment.md).
OFFLOAD_PREFIX = "/internal-media/"

_STILL_WRITTEN = "no-cache"
_FINISHED_PLAYLIST = "private, max-age=3600"
_SEGMENT = "private, max-age=31536000, immutable"


def master_path(grant: Playback, master: str) -> str:
    """The path of one of a track's master playlists, carrying the grant's token."""
    return f"/hls/{grant.track_id}/{grant.generation}/{master}?token={grant.token}"


def _token() -> str:
    return request.args.get("token", "")


def _response(found: HlsFile, *, playlist: bool) -> Response:
    response = Response(found.body, content_type=found.content_type)
    if not found.final:
        response.headers["Cache-Control"] = _STILL_WRITTEN
    elif playlist:
        response.headers["Cache-Control"] = _FINISHED_PLAYLIST
    else:
        response.headers["Cache-Control"] = _SEGMENT
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
    tracks = services().tracks
    if services().settings.offload == "x-accel":
        where = await tracks.hls_segment_location(
            track_id, generation, _token(), rendition, segment
        )
        response = Response(b"", content_type=where.content_type)
        response.headers["X-Accel-Redirect"] = OFFLOAD_PREFIX + where.path
        response.headers["Cache-Control"] = _SEGMENT
        return response
    # Segments are small and immutable: from memory, or one read in a thread, as one body.
    found = await tracks.hls_segment(track_id, generation, _token(), rendition, segment)
    return _response(found, playlist=False)
