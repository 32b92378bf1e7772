"""Track routes: upload, browse, read, delete, and the ways to listen (HLS URL, original,
waveform)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import trio
from pydantic import BaseModel, Field
from quart import Blueprint, Response, request, send_file
from quart.datastructures import FileStorage
from quart.wrappers.response import FileBody
from quart_schema import (
    DataSource,
    document_request,
    document_response,
    tag_blueprint,
    validate_querystring,
    validate_response,
)
from quart_trio.wrappers.response import TrioFileBody

from veza.accounts import Permission
from veza.errors import UnsupportedMediaType, ValidationFailed
from veza.tracks import Tags, Track
from veza.tracks.tags import TAG_MAX_CHARS, checked_tag
from veza.transport.context import services
from veza.transport.guard import current_principal, require
from veza.transport.hls import MP3_MASTER, master_path
from veza.transport.openapi import errors, responds
from veza.transport.pagination import Page, PageQuery, page_of
from veza.transport.proxy import absolute_url
from veza.transport.timestamps import utc
from veza.transport.uploads import content_hash_of

blueprint = Blueprint("tracks", __name__)
tag_blueprint(blueprint, ["tracks"])


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


class UploadForm(BaseModel):
    """multipart/form-data: the file, and tags that override the file's own."""

    file: bytes = Field(description="the audio file, in any format FFmpeg reads")
    title: str = Field(default="", max_length=TAG_MAX_CHARS)
    artist: str = Field(default="", max_length=TAG_MAX_CHARS)
    album: str = Field(default="", max_length=TAG_MAX_CHARS)


class Waveform(BaseModel):
    """Peaks for drawing, over all channels, scaled by the gain applied to the renditions."""

    version: int
    sample_rate: int
    frames: int = Field(description="length of the track in frames")
    samples_per_peak: int = Field(description="frames summarised by each pair of `peaks`")
    peaks: list[list[float]] = Field(description="[min, max] per samples_per_peak frames")
    seconds: list[list[float]] = Field(description="[min, max, rms] per second")


class StreamOut(BaseModel):
    hls_url: str = Field(
        description="master playlist (AAC, or MP3 when the ladder has only MP3); the token in "
        "it is all a player needs"
    )
    hls_mp3_url: str | None = Field(
        description="the MP3 master, for players without AAC, when the ladder has MP3 entries"
    )
    expires_at: datetime


# What an original is sent as: its extension's type (some are containers of the video family),
# or application/octet-stream for an extension we do not know.
ORIGINAL_TYPES = ("audio/*", "video/*", "application/octet-stream")


async def _out(track: Track) -> TrackOut:
    return TrackOut.of(track, await services().tracks.progress(track))


def _form_text(form: Any, name: str) -> str:
    return checked_tag(name, str(form.get(name, "")))


def _spooled(part: FileStorage) -> Path:
    return Path(part.stream.name)


@blueprint.post("/api/v1/tracks")
@require(Permission.UPLOAD)
@errors(
    413,
    415,
    507,
    why={
        413: "payload_too_large: the body is over max_upload_bytes; quota_exceeded: the file "
        "would take the caller over their storage quota (details: used_bytes, quota_bytes, "
        "size_bytes)",
        415: "unsupported_media_type: the body is not multipart/form-data",
    },
)
@document_request(UploadForm, source=DataSource.FORM_MULTIPART)
@validate_response(TrackOut, 202)
@validate_response(TrackOut, 200)
async def upload_track() -> tuple[TrackOut, int]:
    """Upload an audio file (multipart field `file`, optional `title`, `artist`, `album`).
    Every part is spooled to disk as it arrives; what this route does not take into the library
    is removed when the request ends. A file the caller already has (the same bytes) is not
    stored twice: 200 with that track. Refused (507) while the server is short of disk space,
    and (413 quota_exceeded) when the file would take the caller over their quota."""
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType("send the audio as multipart/form-data in a field named file")
    principal = current_principal()
    await services().quotas.check_disk()  # before the body is read
    files, form = await request.files, await request.form
    upload = files.get("file")
    if upload is None:
        raise ValidationFailed("file: an audio file is required")
    tags = Tags(*(_form_text(form, name) for name in ("title", "artist", "album")))
    upload.close()  # flushed: the spooled file is whole
    spooled = _spooled(upload)
    content_hash = content_hash_of(getattr(request, "spooled", ()), spooled)
    if content_hash is not None:
        existing = await services().tracks.owned_copy(principal.user.id, content_hash)
        if existing is not None:
            return await _out(existing), 200
    size = (await trio.Path(spooled).stat()).st_size
    await services().quotas.check_upload(principal.user, size)
    track = await services().tracks.add_upload(
        spooled,
        upload.filename or "upload",
        owner_id=principal.user.id,
        tags=tags,
        content_hash=content_hash,
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
    """A track, with its transcode progress while it is processing."""
    return await _out(await services().tracks.get(track_id))


@blueprint.delete("/api/v1/tracks/<track_id>")
@require()
@errors(403, why={403: "forbidden: only the owner, a moderator or an admin may delete it"})
@responds(204, "the track and its files are gone")
async def delete_track(track_id: str) -> tuple[str, int]:
    """Remove a track and its files: its owner may, and so may a moderator or an admin."""
    await services().tracks.delete(current_principal(), track_id)
    return "", 204


@blueprint.get("/api/v1/tracks/<track_id>/stream")
@require(Permission.STREAM)
@errors(409, why={409: "conflict: the track is not playable yet"})
@validate_response(StreamOut)
async def stream_track(track_id: str) -> StreamOut:
    """A signed HLS URL, usable by players that send no headers of ours (VLC, Safari)."""
    grant = await services().tracks.playback(track_id)
    urls = [absolute_url(master_path(grant, master)) for master in grant.masters]
    mp3 = next((url for url, m in zip(urls, grant.masters, strict=True) if m == MP3_MASTER), None)
    return StreamOut(hls_url=urls[0], hls_mp3_url=mp3, expires_at=utc(grant.expires_at))


@blueprint.get("/api/v1/tracks/<track_id>/original")
@require(Permission.STREAM)
@errors(416)
@responds(200, "the file", media_types=ORIGINAL_TYPES)
@responds(206, "the requested range of the file", media_types=ORIGINAL_TYPES)
@responds(304, "not modified since the copy the client has (If-None-Match)")
async def original_file(track_id: str) -> Response:
    """The uploaded file as it came, with HTTP Range support."""
    path, mimetype = await services().tracks.original(track_id)
    response = await send_file(path, mimetype=mimetype, conditional=True)
    # Quart reads 8 KiB per step by default, about ten times slower than 256 KiB steps.
    # (Quart-Trio's send_file gives a TrioFileBody, which is no FileBody.)
    if isinstance(response.response, FileBody | TrioFileBody):
        response.response.buffer_size = 256 * 1024
    # Quart marks every file public for 12 hours. This one was asked for with a token: no
    # shared cache (a proxy, a CDN) may keep it for others, and a browser asks again each time
    # (a 304 when unchanged), so whoever uses the browser next gets it only with access of
    # their own.
    if "Authorization" in request.headers:
        response.cache_control.public = False
        response.cache_control.max_age = None
        response.headers.pop("Expires", None)
        response.cache_control.private = True
        response.cache_control.no_cache = True
    return response


@blueprint.get("/api/v1/tracks/<track_id>/waveform")
@require(Permission.READ)
@errors(409, why={409: "conflict: the waveform is not ready yet"})
@document_response(Waveform)
async def waveform(track_id: str) -> Response:
    """Min/max peaks for drawing (about 1,000 pairs, and per-second summaries)."""
    return Response(await services().tracks.waveform(track_id), content_type="application/json")
