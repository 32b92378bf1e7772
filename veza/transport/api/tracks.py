"""Track routes: upload, browse, read, delete, and the ways to listen (HLS URL, original,
waveform)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from quart import Blueprint, Response, request, send_file
from quart.datastructures import FileStorage
from quart.wrappers.response import FileBody
from quart_schema import validate_querystring, validate_response

from veza.accounts import Permission
from veza.errors import UnsupportedMediaType, ValidationFailed
from veza.tracks import Tags, Track
from veza.tracks.tags import TAG_MAX_CHARS
from veza.transport.context import services
from veza.transport.guard import current_principal, require
from veza.transport.hls import master_path
from veza.transport.pagination import Page, PageQuery, page_of
from veza.transport.proxy import absolute_url
from veza.transport.timestamps import utc

blueprint = Blueprint("tracks", __name__)


class Rendition(BaseModel):
    """One rendition of a transcoded track, with what a gapless player needs to trim.

    Decoding the rendition's segments in order from the first gives `delay_samples` samples
    (at 44.1 kHz, per channel) before the first sample of the track, then the track, then
    `padding_samples` samples after its last one; trimming both leaves exactly the track.
    AAC from FFmpeg: a delay of 1024 (the encoder's priming frame). MP3: 1105, LAME's encoder
    delay (576) plus the MPEG decoder's own (529), which a decoder that honours a LAME tag
    removes by itself but packed segments carry no such tag. The padding fills the last
    frame. Both are null for a track transcoded before they were recorded.
    """

    name: str
    codec: str
    bitrate_kbps: int
    codecs: str
    segments: int
    peak_bandwidth: int = Field(description="bit/s, measured over the segments")
    average_bandwidth: int = Field(description="bit/s, measured over the segments")
    delay_samples: int | None = Field(
        default=None, description="samples to drop from the start of the decoded rendition"
    )
    padding_samples: int | None = Field(
        default=None, description="samples to drop from the end of the decoded rendition"
    )


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
            progress=progress,
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


class TrackQuery(PageQuery):
    q: str | None = Field(default=None, max_length=200, description="text in title/artist/album")


class StreamOut(BaseModel):
    hls_url: str = Field(description="master playlist; the token in it is all a player needs")
    expires_at: datetime


async def _out(track: Track) -> TrackOut:
    return TrackOut.of(track, await services().tracks.progress(track))


def _form_text(form: Any, name: str) -> str:
    value = str(form.get(name, "")).strip()
    if len(value) > TAG_MAX_CHARS:
        raise ValidationFailed(f"{name}: at most {TAG_MAX_CHARS} characters")
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
    track = await services().tracks.add_upload(
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
    items, next_cursor = await page_of(
        query_args,
        (float, str),
        lambda after, limit: services().tracks.list(query_args.q, after, limit),
        lambda track: (track.created_at, track.id),
    )
    return Page[TrackOut](items=[await _out(t) for t in items], next_cursor=next_cursor)


@blueprint.get("/api/v1/tracks/<track_id>")
@require(Permission.READ)
@validate_response(TrackOut)
async def get_track(track_id: str) -> TrackOut:
    return await _out(await services().tracks.get(track_id))


@blueprint.delete("/api/v1/tracks/<track_id>")
@require()
async def delete_track(track_id: str) -> tuple[str, int]:
    """Remove a track and its files: its owner may, and so may a moderator or an admin."""
    await services().tracks.delete(current_principal(), track_id)
    return "", 204


@blueprint.get("/api/v1/tracks/<track_id>/stream")
@require(Permission.STREAM)
@validate_response(StreamOut)
async def stream_track(track_id: str) -> StreamOut:
    """A signed HLS URL, usable by players that send no headers of ours (VLC, Safari)."""
    grant = await services().tracks.playback(track_id)
    return StreamOut(hls_url=absolute_url(master_path(grant)), expires_at=utc(grant.expires_at))


@blueprint.get("/api/v1/tracks/<track_id>/original")
@require(Permission.STREAM)
async def original_file(track_id: str) -> Response:
    """The uploaded file as it came, with HTTP Range support."""
    path, mimetype = await services().tracks.original(track_id)
    response = await send_file(path, mimetype=mimetype, conditional=True)
    # Quart reads 8 KiB per step by default, about ten times slower than 256 KiB steps.
    if isinstance(response.response, FileBody):
        response.response.buffer_size = 256 * 1024
    return response


@blueprint.get("/api/v1/tracks/<track_id>/waveform")
@require(Permission.READ)
async def waveform(track_id: str) -> Response:
    """Min/max peaks for drawing (about 1,000 pairs, and per-second summaries)."""
    return Response(await services().tracks.waveform(track_id), content_type="application/json")
