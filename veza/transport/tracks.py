"""Track routes: upload, browse, read, delete, and the ways to listen (HLS URL, original,
waveform)."""

from __future__ import annotations

import mimetypes
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import trio
from pydantic import BaseModel, Field
from quart import Blueprint, Response, request, send_file
from quart.datastructures import FileStorage
from quart.wrappers.response import FileBody
from quart_schema import validate_querystring, validate_response

from veza.accounts import Permission
from veza.errors import Conflict, Forbidden, UnsupportedMediaType, ValidationFailed
from veza.library import Tags
from veza.store.tracks import Track
from veza.transport.context import services
from veza.transport.guard import current_principal, require
from veza.transport.hls import sign
from veza.transport.pagination import Page, decode_cursor, paginate
from veza.transport.timestamps import utc

blueprint = Blueprint("tracks", __name__)

_TAG_LIMIT = 500


class Rendition(BaseModel):
    name: str
    codec: str
    bitrate_kbps: int
    codecs: str
    segments: int
    peak_bandwidth: int
    average_bandwidth: int


class Loudness(BaseModel):
    integrated_lufs: float | None
    true_peak_dbtp: float | None
    gain_db: float | None


class TrackOut(BaseModel):
    id: str
    title: str
    artist: str
    album: str
    duration_s: float | None
    status: str = Field(description="processing, ready or failed")
    error: str | None
    progress: float = Field(description="fraction of the transcode done, 0 to 1")
    owner_id: str | None
    created_at: datetime
    original_name: str
    original_bytes: int
    loudness: Loudness
    renditions: list[Rendition]

    @classmethod
    def of(cls, track: Track, progress: float) -> TrackOut:
        return cls(
            id=track.id,
            title=track.title,
            artist=track.artist,
            album=track.album,
            duration_s=track.duration_s,
            status=track.status,
            error=track.error,
            progress=1.0 if track.status == "ready" else progress,
            owner_id=track.owner_id,
            created_at=utc(track.created_at),
            original_name=track.original_name,
            original_bytes=track.original_bytes,
            loudness=Loudness(
                integrated_lufs=track.loudness_lufs,
                true_peak_dbtp=track.true_peak_dbtp,
                gain_db=track.gain_db,
            ),
            renditions=[Rendition(**r) for r in track.renditions],
        )


class TrackQuery(BaseModel):
    q: str | None = Field(default=None, max_length=200, description="text in title/artist/album")
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=512)


class StreamOut(BaseModel):
    hls_url: str = Field(description="master playlist; the token in it is all a player needs")
    expires_at: datetime


async def _out(track: Track) -> TrackOut:
    # Only a track still processing has progress worth a query.
    job = await services().store.jobs.latest_for(track.id) if track.status == "processing" else None
    return TrackOut.of(track, job.progress if job is not None else 0.0)


def _form_text(form: Any, name: str) -> str:
    value = str(form.get(name, "")).strip()
    if len(value) > _TAG_LIMIT:
        raise ValidationFailed(f"{name}: at most {_TAG_LIMIT} characters")
    return value


def _spooled(part: FileStorage) -> Path:
    return Path(part.stream.name)


@blueprint.post("/api/v1/tracks")
@require(Permission.UPLOAD)
@validate_response(TrackOut, 202)
async def upload_track() -> tuple[TrackOut, int]:
    """Upload an audio file (multipart field `file`, optional `title`, `artist`, `album`).
    Every part is spooled to disk as it arrives; what this route does not take into the library
    is removed when the request ends."""
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType("send the audio as multipart/form-data in a field named file")
    files, form = await request.files, await request.form
    upload = files.get("file")
    if upload is None:
        raise ValidationFailed("file: an audio file is required")
    tags = Tags(*(_form_text(form, name) for name in ("title", "artist", "album")))
    upload.close()  # flushed: the spooled file is whole
    track = await services().library.add_upload(
        _spooled(upload),
        upload.filename or "upload",
        owner_id=current_principal().user.id,
        tags=tags,
    )
    return await _out(track), 202


@blueprint.get("/api/v1/tracks")
@require(Permission.READ)
@validate_querystring(TrackQuery)
@validate_response(Page[TrackOut])
async def list_tracks(query_args: TrackQuery) -> Page[TrackOut]:
    """The library, newest first; `q` searches title, artist and album."""
    after = decode_cursor(query_args.cursor, (float, str))
    rows = await services().store.tracks.list(
        query_args.q,
        None if after is None else (after[0], after[1]),
        query_args.limit + 1,
    )
    items, next_cursor = paginate(rows, query_args.limit, lambda t: (t.created_at, t.id))
    return Page[TrackOut](items=[await _out(t) for t in items], next_cursor=next_cursor)


@blueprint.get("/api/v1/tracks/<track_id>")
@require(Permission.READ)
@validate_response(TrackOut)
async def get_track(track_id: str) -> TrackOut:
    return await _out(await services().library.get(track_id))


@blueprint.delete("/api/v1/tracks/<track_id>")
@require()
async def delete_track(track_id: str) -> tuple[str, int]:
    """Remove a track and its files: its owner may, and so may a moderator or an admin."""
    track = await services().library.get(track_id)
    principal = current_principal()
    if track.owner_id != principal.user.id and not principal.can(Permission.MODERATE):
        raise Forbidden("only the track's owner or a moderator may delete it")
    await services().library.delete(track)
    return "", 204


@blueprint.get("/api/v1/tracks/<track_id>/stream")
@require(Permission.STREAM)
@validate_response(StreamOut)
async def stream_track(track_id: str) -> StreamOut:
    """A signed HLS URL, usable by players that send no headers of ours (VLC, Safari)."""
    library = services().library
    track = await library.get(track_id)
    if not await trio.Path(library.hls_dir(track.id) / "master.m3u8").exists():
        raise Conflict(f"the track is not playable yet ({track.status})")
    expires = int(time.time()) + services().settings.stream_token_ttl_seconds
    token = sign(services().secret, track.id, expires)
    url = f"{request.host_url.rstrip('/')}/hls/{track.id}/master.m3u8?token={token}"
    return StreamOut(hls_url=url, expires_at=utc(expires))


@blueprint.get("/api/v1/tracks/<track_id>/original")
@require(Permission.STREAM)
async def original_file(track_id: str) -> Response:
    """The uploaded file as it came, with HTTP Range support."""
    library = services().library
    track = await library.get(track_id)
    mimetype = mimetypes.guess_type(f"x{track.original_ext}")[0] or "application/octet-stream"
    response = await send_file(library.original_path(track), mimetype=mimetype, conditional=True)
    # Quart reads 8 KiB per step by default, about ten times slower than 256 KiB steps.
    if isinstance(response.response, FileBody):
        response.response.buffer_size = 256 * 1024
    return response


@blueprint.get("/api/v1/tracks/<track_id>/waveform")
@require(Permission.READ)
async def waveform(track_id: str) -> Response:
    """Min/max peaks for drawing (about 1,000 pairs, and per-second summaries)."""
    library = services().library
    track = await library.get(track_id)
    path = trio.Path(library.hls_dir(track.id) / "waveform.json")
    if not await path.exists():
        raise Conflict(f"the waveform is not ready yet ({track.status})")
    return Response(await path.read_bytes(), content_type="application/json")
