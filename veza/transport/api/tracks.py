"""Track routes: upload, browse, read, delete, and the ways to listen (HLS URL, original,
waveform)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

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
    validate_request,
    validate_response,
)
from quart_trio.wrappers.response import TrioFileBody

from veza.accounts import Permission
from veza.errors import UnsupportedMediaType, ValidationFailed
from veza.tracks import Tags, Track
from veza.tracks.covers import CoverFile
from veza.tracks.loudness import PlaybackLoudness
from veza.tracks.search import TrackSearch
from veza.tracks.tags import NUMBER_MAX, TAG_MAX_CHARS, checked_tag, number
from veza.tracks.visibility import checked_visibility
from veza.transport.context import services
from veza.transport.guard import current_principal, require
from veza.transport.hls import MP3_MASTER, master_path
from veza.transport.openapi import accepts, errors, responds
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


Visibility = Literal["private", "unlisted", "public"]


class Loudness(BaseModel):
    """What the transcode measured, and what a player does about it (docs/web.md, Playback)."""

    integrated_lufs: float | None = Field(description="of the source (LUFS); null: silent")
    true_peak_dbtp: float | None = Field(description="of the source (dBTP)")
    gain_db: float | None = Field(
        description="the gain the renditions carry (0 when loudness_apply_gain was off); "
        "null until transcoded"
    )
    normalised: bool = Field(
        description="the renditions carry the track gain: a player adds nothing"
    )
    suggested_gain_db: float = Field(
        description="the gain (dB) a player applies when the renditions were not normalised: "
        "towards the server's loudness_target_lufs, limited so the true peak stays under "
        "-1 dBTP; 0 when normalised"
    )


class ReplayGain(BaseModel):
    """ReplayGain as the file stated it (null: not stated)."""

    track_gain_db: float | None
    track_peak: float | None
    album_gain_db: float | None
    album_peak: float | None


class TrackOut(BaseModel):
    id: str
    title: str
    artist: str
    album: str
    album_artist: str
    track_number: int | None
    disc_number: int | None
    year: int | None
    genre: str
    visibility: Visibility
    album_id: str | None = Field(description="for /api/v1/albums/{id}; null without an album")
    artist_id: str | None = Field(description="for /api/v1/artists/{id}; null without an artist")
    cover_url: str | None = Field(description="the cover (`?size=` 64 to 1024); null: none")
    replaygain: ReplayGain
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
    def of(cls, track: Track, progress: float, loudness: PlaybackLoudness) -> TrackOut:
        return cls(
            id=track.id,
            title=track.title,
            artist=track.artist,
            album=track.album,
            album_artist=track.album_artist,
            track_number=track.track_number,
            disc_number=track.disc_number,
            year=track.year,
            genre=track.genre,
            visibility=track.visibility,  # type: ignore[arg-type]  # one of VISIBILITIES
            album_id=track.album_id or None,
            artist_id=track.artist_id or None,
            cover_url=cover_url(track),
            replaygain=ReplayGain(
                track_gain_db=track.replaygain_track_gain_db,
                track_peak=track.replaygain_track_peak,
                album_gain_db=track.replaygain_album_gain_db,
                album_peak=track.replaygain_album_peak,
            ),
            duration_s=track.duration_s,
            status=track.status,
            error=track.error,
            progress=progress,
            owner_id=track.owner_id,
            created_at=utc(track.created_at),
            original_name=track.original_name,
            original_bytes=track.original_bytes,
            loudness=Loudness(
                integrated_lufs=loudness.integrated_lufs,
                true_peak_dbtp=loudness.true_peak_dbtp,
                gain_db=loudness.applied_gain_db,
                normalised=loudness.normalised,
                suggested_gain_db=loudness.suggested_gain_db,
            ),
            renditions=[Rendition(**r) for r in track.renditions],
        )


class TrackQuery(PageQuery):
    q: str | None = Field(
        default=None,
        max_length=200,
        description="words to find in title, artist, album or album artist, without regard to "
        "case or accents; each word matches the start of a word (a one-letter word, that word)",
    )
    owner: str | None = Field(default=None, max_length=64, description="an owner's user id")
    artist: str | None = Field(
        default=None, max_length=64, description="an artist id (as artist or album artist)"
    )
    album: str | None = Field(default=None, max_length=64, description="an album id")
    genre: str | None = Field(default=None, max_length=TAG_MAX_CHARS, description="any case")
    year: int | None = Field(default=None, ge=1, le=NUMBER_MAX)
    status: Literal["processing", "ready", "failed"] | None = None
    sort: Literal["relevance", "newest", "title", "artist", "album", "year"] | None = Field(
        default=None, description="default: relevance with `q`, newest without"
    )


class UploadForm(BaseModel):
    """multipart/form-data: the file, and tags that override the file's own."""

    file: bytes = Field(description="the audio file, in any format FFmpeg reads")
    title: str = Field(default="", max_length=TAG_MAX_CHARS)
    artist: str = Field(default="", max_length=TAG_MAX_CHARS)
    album: str = Field(default="", max_length=TAG_MAX_CHARS)
    album_artist: str = Field(default="", max_length=TAG_MAX_CHARS)
    genre: str = Field(default="", max_length=TAG_MAX_CHARS)
    track_number: str = Field(default="", max_length=8, description="a number from 1 to 9999")
    disc_number: str = Field(default="", max_length=8, description="a number from 1 to 9999")
    year: str = Field(default="", max_length=8, description="a number from 1 to 9999")
    visibility: Visibility | Literal[""] = Field(
        default="", description="empty: the server's default_visibility"
    )


class TrackEdit(BaseModel):
    """The fields to change; those left out keep their value. Numbers may be null (unknown)."""

    model_config = {"extra": "forbid"}

    title: str | None = Field(default=None, min_length=1, max_length=TAG_MAX_CHARS)
    artist: str | None = Field(default=None, max_length=TAG_MAX_CHARS)
    album: str | None = Field(default=None, max_length=TAG_MAX_CHARS)
    album_artist: str | None = Field(default=None, max_length=TAG_MAX_CHARS)
    genre: str | None = Field(default=None, max_length=TAG_MAX_CHARS)
    track_number: int | None = Field(default=None, ge=1, le=NUMBER_MAX)
    disc_number: int | None = Field(default=None, ge=1, le=NUMBER_MAX)
    year: int | None = Field(default=None, ge=1, le=NUMBER_MAX)
    visibility: Visibility | None = None


class CoverQuery(BaseModel):
    size: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="pixels (64, 128, 256, 512 or 1024; another value gets the next size up, "
        "past 1024 the 1024 one); default 512",
    )


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


COVER_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp")
_TEXT_TAGS = ("title", "artist", "album", "album_artist", "genre")


def cover_url(track: Track) -> str | None:
    return f"/api/v1/tracks/{track.id}/cover?v={track.cover[:12]}" if track.cover else None


def cover_response(cover: CoverFile) -> Response:
    """A cover with its content ETag; 304 when the client has it. The URL names no version,
    so caches keep it a day and ask again (a 304) after that."""
    if request.if_none_match.contains_weak(cover.etag.strip('"')):
        response = Response("", status=304)
    else:
        response = Response(cover.body, content_type=cover.content_type)
    response.headers["ETag"] = cover.etag
    response.cache_control.max_age = 86_400
    if request.args.get("v"):  # a versioned URL (cover_url): it never changes
        response.cache_control.max_age = 31_536_000
        response.cache_control.immutable = True
    response.cache_control.private = True  # a private track's cover stays with its viewer
    return response


async def cover_body() -> bytes:
    """The image a PUT carries as its body: its type must be one of COVER_TYPES; its size is
    bounded by the HTTP edge (veza/transport/http.py)."""
    if request.mimetype not in COVER_TYPES:
        raise UnsupportedMediaType(f"send the image as the body, typed {', '.join(COVER_TYPES)}")
    data = await request.get_data(cache=False)
    assert isinstance(data, bytes)
    if not data:
        raise ValidationFailed("the body holds no image")
    return data


# What an original is sent as: its extension's type (some are containers of the video family),
# or application/octet-stream for an extension we do not know.
ORIGINAL_TYPES = ("audio/*", "video/*", "application/octet-stream")


async def track_out(track: Track) -> TrackOut:
    tracks = services().tracks
    return TrackOut.of(track, await tracks.progress(track), tracks.loudness(track))


def _form_text(form: Any, name: str) -> str:
    return checked_tag(name, str(form.get(name, "")))


def _form_number(form: Any, name: str) -> int | None:
    text = _form_text(form, name)
    if not text:
        return None
    if not text.isdigit() or number(text) is None:
        raise ValidationFailed(f"{name}: a number from 1 to {NUMBER_MAX}")
    return number(text)


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
    """Upload an audio file (multipart field `file`; optional tags that override the file's
    own, and `visibility`).
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
    tags = Tags(
        title=_form_text(form, "title"),
        artist=_form_text(form, "artist"),
        album=_form_text(form, "album"),
        album_artist=_form_text(form, "album_artist"),
        genre=_form_text(form, "genre"),
        track_number=_form_number(form, "track_number"),
        disc_number=_form_number(form, "disc_number"),
        year=_form_number(form, "year"),
    )
    visibility = _form_text(form, "visibility") or None
    if visibility is not None:
        checked_visibility(visibility)  # before a copy the caller has is answered
    upload.close()  # flushed: the spooled file is whole
    spooled = _spooled(upload)
    content_hash = content_hash_of(getattr(request, "spooled", ()), spooled)
    if content_hash is not None:
        existing = await services().tracks.owned_copy(principal.user.id, content_hash)
        if existing is not None:
            return await track_out(existing), 200
    size = (await trio.Path(spooled).stat()).st_size
    async with services().quotas.admitting(principal.user, size):
        track = await services().tracks.add_upload(
            spooled,
            upload.filename or "upload",
            owner_id=principal.user.id,
            tags=tags,
            visibility=visibility,
            content_hash=content_hash,
        )
    return await track_out(track), 202


@blueprint.get("/api/v1/tracks")
@require(Permission.READ)
@validate_querystring(TrackQuery)
@validate_response(Page[TrackOut])
async def list_tracks(query_args: TrackQuery) -> Page[TrackOut]:
    """The library as the caller may list it (public tracks and their own; never others'
    unlisted or private ones), filtered, searched with `q` (ranked: a title starting with the
    word, then a title word, then the artist, then the album; newest first within each; with
    several words, the rarest decides) and sorted."""
    q = query_args.q.strip() if query_args.q else None
    criteria = TrackSearch(
        query=q or None,
        owner_id=query_args.owner,
        artist_id=query_args.artist,
        album_id=query_args.album,
        genre=query_args.genre,
        year=query_args.year,
        status=query_args.status,
        sort=query_args.sort or ("relevance" if q else "newest"),
    )
    principal = current_principal()
    items, next_cursor = await page_of(
        query_args,
        criteria.cursor_shape(),
        lambda after, limit: services().tracks.search(principal, criteria, after, limit),
        lambda found: found[1],
    )
    return Page[TrackOut](items=[await track_out(t) for t, _ in items], next_cursor=next_cursor)


@blueprint.get("/api/v1/tracks/<track_id>")
@require(Permission.READ)
@validate_response(TrackOut)
async def get_track(track_id: str) -> TrackOut:
    """A track, with its transcode progress while it is processing (404 for one the caller
    may not see)."""
    return await track_out(await services().tracks.visible(current_principal(), track_id))


@blueprint.patch("/api/v1/tracks/<track_id>")
@require()
@errors(403, why={403: "forbidden: only the owner, a moderator or an admin may edit it"})
@validate_request(TrackEdit)
@validate_response(TrackOut)
async def edit_track(track_id: str, data: TrackEdit) -> TrackOut:
    """Change tags and `visibility`: its owner may, and so may a moderator or an admin."""
    changes: dict[str, Any] = {}
    for name in data.model_fields_set:
        value = getattr(data, name)
        if name in _TEXT_TAGS:
            if value is None:
                raise ValidationFailed(f"{name}: text, or leave it out")
            value = checked_tag(name, value)
        elif name == "visibility" and value is None:
            raise ValidationFailed("visibility: one of private, unlisted, public")
        changes[name] = value
    track = await services().tracks.edit(current_principal(), track_id, changes)
    return await track_out(track)


@blueprint.get("/api/v1/tracks/<track_id>/cover")
@require(Permission.READ)
@validate_querystring(CoverQuery)
@responds(200, "the cover as JPEG", media_types=("image/jpeg",), headers={"ETag": "content"})
@responds(304, "not modified since the copy the client has (If-None-Match)")
async def track_cover(track_id: str, query_args: CoverQuery) -> Response:
    """The track's cover (its own, else its album's): 404 when it has none."""
    found = await services().tracks.cover(current_principal(), track_id, query_args.size)
    return cover_response(found)


@blueprint.put("/api/v1/tracks/<track_id>/cover")
@require()
@accepts(COVER_TYPES, "the image (at most 16 MB, 40 million pixels), as the body")
@errors(
    403,
    413,
    415,
    422,
    why={
        403: "forbidden: only the owner, a moderator or an admin may change it",
        415: "unsupported_media_type: not an image type we take, or not an image we can read",
        422: "validation_failed: the image is empty, damaged, truncated or too many pixels",
    },
)
@validate_response(TrackOut)
async def put_track_cover(track_id: str) -> TrackOut:
    """Set the track's cover: decoded, re-encoded as JPEG in sizes 64 to 1024 (the bytes sent
    are never served)."""
    track = await services().tracks.set_cover(current_principal(), track_id, await cover_body())
    return await track_out(track)


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
    grant = await services().tracks.playback(current_principal(), track_id)
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
    path, mimetype = await services().tracks.original(current_principal(), track_id)
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
    peaks = await services().tracks.waveform(current_principal(), track_id)
    return Response(peaks, content_type="application/json")
