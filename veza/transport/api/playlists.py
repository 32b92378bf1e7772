"""Playlist routes: playlists, entries, collaborators, export and import, and the play queue.

Every playlist answer carries its version as an `ETag` (`"v7"`); an edit sent with `If-Match`
naming an older version is refused with 412, so a client never overwrites what it has not seen.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

import trio
from pydantic import BaseModel, Field
from quart import Blueprint, Response, request
from quart_schema import (
    DataSource,
    document_headers,
    document_request,
    tag_blueprint,
    validate_querystring,
    validate_request,
    validate_response,
)

from veza.accounts import Permission
from veza.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from veza.playlists import CollaboratorRow, EntryView, PlaylistView, QueueRow
from veza.playlists.formats import ExportEntry, render_m3u8
from veza.playlists.service import (
    DESCRIPTION_MAX_CHARS,
    MAX_BATCH,
    NAME_MAX_CHARS,
    QUEUE_MAX_TRACKS,
)
from veza.transport.api.tracks import (
    COVER_TYPES,
    CoverQuery,
    _spooled,
    cover_body,
    cover_response,
)
from veza.transport.context import services
from veza.transport.guard import current_principal, require
from veza.transport.hls import master_path
from veza.transport.openapi import accepts, errors, responds
from veza.transport.pagination import Page, PageQuery, page_of
from veza.transport.proxy import absolute_url
from veza.transport.timestamps import utc

blueprint = Blueprint("playlists", __name__)
tag_blueprint(blueprint, ["playlists"])

VisibilityName = Literal["private", "unlisted", "public"]
RoleName = Literal["editor", "viewer"]
_USER_ID = r"^[0-9a-f]{32}$"
_TRACK_ID = r"^[0-9a-f]{24}$"
_ETAG = re.compile(r'\s*"v([0-9]{1,18})"\s*')
M3U_TYPE = "audio/x-mpegurl"
# Room for the multipart framing and the small fields around an import's file: a declared body
# larger than the file limit plus this is refused before it is read.
_FORM_OVERHEAD = 64 * 1024
TrackId = Annotated[str, Field(pattern=_TRACK_ID)]


# Bodies and answers


class IfMatch(BaseModel):
    if_match: str | None = Field(
        default=None,
        max_length=200,
        description='the version the edit is based on, as its ETag ("v7"): 412 if the '
        "playlist has changed since",
    )


class PlaylistCreate(BaseModel):
    name: str = Field(min_length=1, max_length=NAME_MAX_CHARS)
    description: str = Field(default="", max_length=DESCRIPTION_MAX_CHARS)
    visibility: VisibilityName = "private"


class PlaylistChange(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX_CHARS)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX_CHARS)
    visibility: VisibilityName | None = None


class TrackInfo(BaseModel):
    title: str
    artist: str
    album: str
    duration_s: float | None
    status: str


class EntryOut(BaseModel):
    id: str
    track_id: str
    position: int = Field(description="index in the playlist, from 0")
    available: bool = Field(
        description="false: the track is not available to you; its details are left out"
    )
    track: TrackInfo | None
    added_by: str | None
    added_at: datetime

    @classmethod
    def of(cls, entry: EntryView) -> EntryOut:
        track = entry.track
        info = None
        if track is not None:
            info = TrackInfo(
                title=track.title,
                artist=track.artist,
                album=track.album,
                duration_s=track.duration_s,
                status=track.status,
            )
        return cls(
            id=entry.id,
            track_id=entry.track_id,
            position=entry.position,
            available=track is not None,
            track=info,
            added_by=entry.added_by,
            added_at=utc(entry.added_at),
        )


class CollaboratorOut(BaseModel):
    user_id: str
    username: str
    role: RoleName
    added_at: datetime

    @classmethod
    def of(cls, row: CollaboratorRow) -> CollaboratorOut:
        return cls(
            user_id=row.user_id,
            username=row.username,
            role=row.role,  # type: ignore[arg-type]
            added_at=utc(row.added_at),
        )


class PlaylistSummary(BaseModel):
    id: str
    name: str
    description: str
    visibility: VisibilityName
    owner_id: str
    version: int = Field(description='also the ETag, "v{version}"')
    track_count: int
    duration_s: float = Field(description="total of the entries' durations")
    role: Literal["owner", "editor", "viewer"] | None = Field(description="yours in it")
    cover_url: str | None = Field(
        description="the cover (`?size=` 64 to 1024): uploaded, else the first tracks'; null: "
        "none to show"
    )
    cover_track_ids: list[str] = Field(
        description="the first tracks available to you with a cover (theirs or their album's)"
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def fields_of(cls, view: PlaylistView) -> dict[str, object]:
        playlist = view.playlist
        return {
            "id": playlist.id,
            "name": playlist.name,
            "description": playlist.description,
            "visibility": playlist.visibility,
            "owner_id": playlist.owner_id,
            "version": playlist.version,
            "track_count": view.track_count,
            "duration_s": view.duration_s,
            "role": view.role,
            "cover_url": _cover_url(view),
            "cover_track_ids": view.cover_track_ids,
            "created_at": utc(playlist.created_at),
            "updated_at": utc(playlist.updated_at),
        }

    @classmethod
    def of(cls, view: PlaylistView) -> PlaylistSummary:
        return cls.model_validate(cls.fields_of(view))


class PlaylistOut(PlaylistSummary):
    entries: list[EntryOut] = Field(description="in order")
    collaborators: list[CollaboratorOut]

    @classmethod
    def of(cls, view: PlaylistView) -> PlaylistOut:
        return cls.model_validate(
            {
                **cls.fields_of(view),
                "entries": [EntryOut.of(e) for e in view.entries or []],
                "collaborators": [CollaboratorOut.of(c) for c in view.collaborators or []],
            }
        )


class PlaylistQuery(PageQuery):
    scope: Literal["all", "mine", "shared", "public"] = Field(
        default="all", description="mine, shared with me, public, or all three"
    )
    q: str | None = Field(default=None, max_length=200, description="text in the name")


class EntryAdd(BaseModel):
    track_id: str = Field(pattern=_TRACK_ID)
    position: int | None = Field(
        default=None, ge=0, le=1_000_000, description="index to insert at; default: the end"
    )


class EntriesAdd(BaseModel):
    track_ids: list[TrackId] = Field(min_length=1, max_length=MAX_BATCH)
    position: int | None = Field(default=None, ge=0, le=1_000_000)


class EntriesOut(BaseModel):
    entries: list[EntryOut]
    version: int


class EntryMove(BaseModel):
    position: int = Field(ge=0, le=1_000_000, description="its index once moved")


class CollaboratorIn(BaseModel):
    user_id: str = Field(pattern=_USER_ID)
    role: RoleName


class RoleChange(BaseModel):
    role: RoleName


class Transfer(BaseModel):
    user_id: str = Field(pattern=_USER_ID, description="the new owner")


class ImportForm(BaseModel):
    """multipart/form-data: the playlist file, and optionally the new playlist's name and
    visibility."""

    file: bytes = Field(description="an M3U, M3U8 or XSPF playlist")
    name: str = Field(default="", max_length=NAME_MAX_CHARS)
    visibility: VisibilityName = "private"


class UnmatchedOut(BaseModel):
    index: int = Field(description="the entry's place in the file, from 0")
    title: str
    artist: str
    location: str


class ImportOut(BaseModel):
    playlist: PlaylistOut
    matched: int
    unmatched: list[UnmatchedOut]


class QueueIn(BaseModel):
    """Subsonic's savePlayQueue in JSON: the tracks, which one plays, and where in it."""

    track_ids: list[TrackId] = Field(max_length=QUEUE_MAX_TRACKS)
    current_index: int = Field(default=0, ge=0, lt=QUEUE_MAX_TRACKS)
    position_s: float = Field(default=0.0, ge=0, le=1_000_000)
    client: str = Field(default="", max_length=64, description="the device or app saving it")


class QueueOut(BaseModel):
    track_ids: list[str]
    current_index: int
    current_track_id: str | None = Field(description="Subsonic's `current`")
    position_s: float
    changed_by: str
    updated_at: datetime | None

    @classmethod
    def of(cls, queue: QueueRow) -> QueueOut:
        current = queue.track_ids[queue.current_index] if queue.track_ids else None
        return cls(
            track_ids=queue.track_ids,
            current_index=queue.current_index,
            current_track_id=current,
            position_s=queue.position_s,
            changed_by=queue.changed_by,
            updated_at=utc(queue.updated_at) if queue.updated_at else None,
        )


def _cover_url(view: PlaylistView) -> str | None:
    base = f"/api/v1/playlists/{view.playlist.id}/cover"
    if view.playlist.cover:  # an uploaded one: the URL names it, so it may be kept for ever
        return f"{base}?v={view.playlist.cover[:12]}"
    return base if view.cover_track_ids else None


# Versions


def etag(version: int) -> dict[str, str]:
    return {"ETag": f'"v{version}"'}


def if_version() -> int | None:
    """The version `If-Match` names: None when absent or `*`; -1 (stale whatever the playlist
    is at) when it names none of ours, weak tags included (If-Match compares strongly)."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    match = _ETAG.fullmatch(header.split(",")[0])
    return int(match.group(1)) if match else -1


_VERSIONED = {412: "precondition_failed: If-Match names an older version of the playlist"}
_ETAG_HEADER = {"ETag": 'the playlist\'s new version, "v{version}"'}


# Playlists


@blueprint.post("/api/v1/playlists")
@require(Permission.CREATE_PLAYLISTS)
@validate_request(PlaylistCreate)
@validate_response(PlaylistOut, 201)
async def create_playlist(data: PlaylistCreate) -> tuple[PlaylistOut, int, dict[str, str]]:
    """Create a playlist (private unless said otherwise)."""
    view = await services().playlists.create(
        current_principal(), data.name, data.description, data.visibility
    )
    return PlaylistOut.of(view), 201, etag(view.version)


@blueprint.get("/api/v1/playlists")
@require(Permission.READ)
@validate_querystring(PlaylistQuery)
@validate_response(Page[PlaylistSummary])
async def list_playlists(query_args: PlaylistQuery) -> Page[PlaylistSummary]:
    """Playlists you own, those shared with you and public ones, newest first."""
    principal = current_principal()
    items, next_cursor = await page_of(
        query_args,
        (float, str),
        lambda after, limit: services().playlists.browse(
            principal, query_args.scope, query_args.q, after, limit
        ),
        lambda view: (view.playlist.created_at, view.playlist.id),
    )
    return Page[PlaylistSummary](
        items=[PlaylistSummary.of(v) for v in items], next_cursor=next_cursor
    )


@blueprint.get("/api/v1/playlists/<playlist_id>")
@require(Permission.READ)
@validate_response(PlaylistOut)
async def get_playlist(playlist_id: str) -> tuple[PlaylistOut, int, dict[str, str]]:
    """A playlist with its entries in order and its collaborators; ETag: its version."""
    view = await services().playlists.get(current_principal(), playlist_id)
    return PlaylistOut.of(view), 200, etag(view.version)


@blueprint.patch("/api/v1/playlists/<playlist_id>")
@require(Permission.CREATE_PLAYLISTS)
@errors(403, 412, why={403: "forbidden: only the owner may change these", **_VERSIONED})
@document_headers(IfMatch)
@validate_request(PlaylistChange)
@validate_response(PlaylistOut)
async def change_playlist(
    playlist_id: str, data: PlaylistChange
) -> tuple[PlaylistOut, int, dict[str, str]]:
    """Change the name, the description or the visibility (owner)."""
    view = await services().playlists.update(
        current_principal(),
        playlist_id,
        name=data.name,
        description=data.description,
        visibility=data.visibility,
        if_version=if_version(),
    )
    return PlaylistOut.of(view), 200, etag(view.version)


@blueprint.delete("/api/v1/playlists/<playlist_id>")
@require()
@errors(403, 412, why={403: "forbidden: only the owner or a moderator may delete it", **_VERSIONED})
@document_headers(IfMatch)
@responds(204, "the playlist is gone")
async def delete_playlist(playlist_id: str) -> tuple[str, int]:
    """Delete a playlist (owner; a moderator, unless it is private)."""
    await services().playlists.delete(current_principal(), playlist_id, if_version())
    return "", 204


# Entries

_EDITORS = {403: "forbidden: only the owner and editors may change the entries", **_VERSIONED}


@blueprint.post("/api/v1/playlists/<playlist_id>/entries")
@require(Permission.CREATE_PLAYLISTS)
@errors(403, 409, 412, why={409: "conflict: the playlist is full", **_EDITORS})
@document_headers(IfMatch)
@validate_request(EntryAdd)
@validate_response(EntryOut, 201)
async def add_entry(playlist_id: str, data: EntryAdd) -> tuple[EntryOut, int, dict[str, str]]:
    """Add a track at a position (default: the end); the same track may appear twice."""
    edited = await services().playlists.add_entries(
        current_principal(), playlist_id, [data.track_id], data.position, if_version()
    )
    return EntryOut.of(edited.entries[0]), 201, etag(edited.version)


@blueprint.post("/api/v1/playlists/<playlist_id>/entries/batch")
@require(Permission.CREATE_PLAYLISTS)
@errors(403, 409, 412, why={409: "conflict: the playlist would be over its size", **_EDITORS})
@document_headers(IfMatch)
@validate_request(EntriesAdd)
@validate_response(EntriesOut, 201)
async def add_entries(playlist_id: str, data: EntriesAdd) -> tuple[EntriesOut, int, dict[str, str]]:
    """Add many tracks at once, in the order given, at a position (default: the end)."""
    edited = await services().playlists.add_entries(
        current_principal(), playlist_id, data.track_ids, data.position, if_version()
    )
    out = EntriesOut(entries=[EntryOut.of(e) for e in edited.entries], version=edited.version)
    return out, 201, etag(edited.version)


@blueprint.delete("/api/v1/playlists/<playlist_id>/entries/<entry_id>")
@require(Permission.CREATE_PLAYLISTS)
@errors(403, 412, why=_EDITORS)
@document_headers(IfMatch)
@responds(204, "the entry is gone; those after it moved up", headers=_ETAG_HEADER)
async def remove_entry(playlist_id: str, entry_id: str) -> tuple[str, int, dict[str, str]]:
    """Remove one entry."""
    edited = await services().playlists.remove_entry(
        current_principal(), playlist_id, entry_id, if_version()
    )
    return "", 204, etag(edited.version)


@blueprint.post("/api/v1/playlists/<playlist_id>/entries/<entry_id>/move")
@require(Permission.CREATE_PLAYLISTS)
@errors(403, 412, why=_EDITORS)
@document_headers(IfMatch)
@validate_request(EntryMove)
@validate_response(EntryOut)
async def move_entry(
    playlist_id: str, entry_id: str, data: EntryMove
) -> tuple[EntryOut, int, dict[str, str]]:
    """Move an entry to another position (past the end: the last)."""
    edited = await services().playlists.move_entry(
        current_principal(), playlist_id, entry_id, data.position, if_version()
    )
    return EntryOut.of(edited.entries[0]), 200, etag(edited.version)


# Collaborators

_OWNER_ONLY = {403: "forbidden: only the owner may do this", **_VERSIONED}


@blueprint.post("/api/v1/playlists/<playlist_id>/collaborators")
@require(Permission.CREATE_PLAYLISTS)
@errors(
    403, 409, 412, why={409: "conflict: already a collaborator (PATCH the role)", **_OWNER_ONLY}
)
@document_headers(IfMatch)
@validate_request(CollaboratorIn)
@validate_response(CollaboratorOut, 201)
async def add_collaborator(
    playlist_id: str, data: CollaboratorIn
) -> tuple[CollaboratorOut, int, dict[str, str]]:
    """Invite an account as editor (adds, removes and moves entries) or viewer (reads)."""
    row, version = await services().playlists.add_collaborator(
        current_principal(), playlist_id, data.user_id, data.role, if_version()
    )
    return CollaboratorOut.of(row), 201, etag(version)


@blueprint.patch("/api/v1/playlists/<playlist_id>/collaborators/<user_id>")
@require(Permission.CREATE_PLAYLISTS)
@errors(403, 412, why=_OWNER_ONLY)
@document_headers(IfMatch)
@validate_request(RoleChange)
@validate_response(CollaboratorOut)
async def change_collaborator(
    playlist_id: str, user_id: str, data: RoleChange
) -> tuple[CollaboratorOut, int, dict[str, str]]:
    """Change a collaborator's role."""
    row, version = await services().playlists.add_collaborator(
        current_principal(), playlist_id, user_id, data.role, if_version(), replace=True
    )
    return CollaboratorOut.of(row), 200, etag(version)


@blueprint.delete("/api/v1/playlists/<playlist_id>/collaborators/<user_id>")
@require()
@errors(
    403, 412, why={403: "forbidden: only the owner, or the collaborator themself", **_VERSIONED}
)
@document_headers(IfMatch)
@responds(204, "no longer a collaborator", headers=_ETAG_HEADER)
async def remove_collaborator(playlist_id: str, user_id: str) -> tuple[str, int, dict[str, str]]:
    """Remove a collaborator (owner), or leave a playlist shared with you."""
    version = await services().playlists.remove_collaborator(
        current_principal(), playlist_id, user_id, if_version()
    )
    return "", 204, etag(version)


@blueprint.post("/api/v1/playlists/<playlist_id>/transfer")
@require(Permission.CREATE_PLAYLISTS)
@errors(403, 412, why=_OWNER_ONLY)
@document_headers(IfMatch)
@validate_request(Transfer)
@validate_response(PlaylistOut)
async def transfer_playlist(
    playlist_id: str, data: Transfer
) -> tuple[PlaylistOut, int, dict[str, str]]:
    """Hand the playlist to another account; you stay on as an editor."""
    view = await services().playlists.transfer(
        current_principal(), playlist_id, data.user_id, if_version()
    )
    return PlaylistOut.of(view), 200, etag(view.version)


# The cover


@blueprint.get("/api/v1/playlists/<playlist_id>/cover")
@require(Permission.READ)
@validate_querystring(CoverQuery)
@responds(200, "the cover as JPEG", media_types=("image/jpeg",), headers={"ETag": "content"})
@responds(304, "not modified since the copy the client has (If-None-Match)")
async def playlist_cover(playlist_id: str, query_args: CoverQuery) -> Response:
    """The playlist's cover: the one uploaded, else that of its first track available to you
    that has one; 404 when there is none."""
    found = await services().playlists.cover(current_principal(), playlist_id, query_args.size)
    return cover_response(found)


@blueprint.put("/api/v1/playlists/<playlist_id>/cover")
@require(Permission.CREATE_PLAYLISTS)
@accepts(COVER_TYPES, "the image (at most 16 MB, 40 million pixels), as the body")
@errors(
    403,
    412,
    415,
    422,
    why={
        403: "forbidden: only the owner may change the cover",
        415: "unsupported_media_type: not an image type we take, or not an image we can read",
        422: "validation_failed: the image is empty, damaged, truncated or too many pixels",
        **_VERSIONED,
    },
)
@document_headers(IfMatch)
@validate_response(PlaylistOut)
async def put_playlist_cover(playlist_id: str) -> tuple[PlaylistOut, int, dict[str, str]]:
    """Upload a cover (owner): decoded, re-encoded as JPEG in sizes 64 to 1024 (the bytes sent
    are never served)."""
    image = await cover_body()
    view = await services().playlists.set_cover(
        current_principal(), playlist_id, image, if_version()
    )
    return PlaylistOut.of(view), 200, etag(view.version)


@blueprint.delete("/api/v1/playlists/<playlist_id>/cover")
@require(Permission.CREATE_PLAYLISTS)
@errors(403, 412, why={403: "forbidden: only the owner may change the cover", **_VERSIONED})
@document_headers(IfMatch)
@validate_response(PlaylistOut)
async def delete_playlist_cover(playlist_id: str) -> tuple[PlaylistOut, int, dict[str, str]]:
    """Remove the uploaded cover: the first tracks' covers show again."""
    view = await services().playlists.remove_cover(current_principal(), playlist_id, if_version())
    return PlaylistOut.of(view), 200, etag(view.version)


# Export and import


@blueprint.get("/api/v1/playlists/<playlist_id>/export.m3u8")
@require(Permission.STREAM)
@responds(200, "an extended M3U of signed stream URLs", media_types=(M3U_TYPE,))
async def export_playlist(playlist_id: str) -> Response:
    """The playlist as an extended M3U (UTF-8) of signed HLS URLs that players such as VLC
    open as it is; valid for `export_token_ttl_seconds` (said in the file). Entries you may
    not play, or not yet, are left out."""
    export = await services().playlists.export(current_principal(), playlist_id)
    entries = [
        ExportEntry(
            track.title,
            track.artist,
            track.duration_s,
            absolute_url(master_path(grant, grant.masters[0])),
        )
        for track, grant in export.playable
    ]
    until = utc(export.expires_at).strftime("%Y-%m-%dT%H:%M:%SZ")
    ttl = services().settings.export_token_ttl_seconds
    note = f"Stream URLs valid until {until} (export_token_ttl_seconds = {ttl})"
    body = render_m3u8(export.name, entries, note, export.skipped)
    response = Response(body, content_type=f"{M3U_TYPE}; charset=utf-8")
    response.headers["Cache-Control"] = "private, no-store"  # it holds grants to listen
    response.headers["Content-Disposition"] = 'attachment; filename="playlist.m3u8"'
    return response


@blueprint.post("/api/v1/playlists/import")
@require(Permission.CREATE_PLAYLISTS)
@errors(
    413,
    415,
    why={
        413: "payload_too_large: the file is over playlist_import_max_bytes",
        415: "unsupported_media_type: the body is not multipart/form-data",
    },
)
@document_request(ImportForm, source=DataSource.FORM_MULTIPART)
@validate_response(ImportOut, 201)
async def import_playlist() -> tuple[ImportOut, int]:
    """A new playlist from an M3U, M3U8 or XSPF file (multipart field `file`): entries are
    matched to tracks you may play by title and artist (case and accents aside), else by file
    name; the answer lists those that matched nothing."""
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType("send the playlist as multipart/form-data in a field named file")
    limit = services().settings.playlist_import_max_bytes
    declared = request.content_length
    if declared is not None and declared > limit + _FORM_OVERHEAD:
        raise PayloadTooLarge(f"file: a playlist file is at most {limit} bytes")
    files, form = await request.files, await request.form
    upload = files.get("file")
    if upload is None:
        raise ValidationFailed("file: a playlist file is required")
    upload.close()
    path = trio.Path(_spooled(upload))
    if (await path.stat()).st_size > limit:
        raise PayloadTooLarge(f"file: a playlist file is at most {limit} bytes")
    data = await path.read_bytes()
    name = str(form.get("name", "")).strip()[:NAME_MAX_CHARS]
    visibility = str(form.get("visibility", "private"))
    if visibility not in ("private", "unlisted", "public"):
        raise ValidationFailed("visibility: private, unlisted or public")
    imported = await services().playlists.import_playlist(
        current_principal(), data, name or None, visibility
    )
    out = ImportOut(
        playlist=PlaylistOut.of(imported.playlist),
        matched=imported.matched,
        unmatched=[
            UnmatchedOut(index=u.index, title=u.title, artist=u.artist, location=u.location)
            for u in imported.unmatched
        ],
    )
    return out, 201


# The play queue


@blueprint.get("/api/v1/me/queue")
@require(Permission.STREAM)
@validate_response(QueueOut)
async def get_queue() -> QueueOut:
    """Your play queue as last saved from any device (tracks gone since are left out)."""
    return QueueOut.of(await services().playlists.queue(current_principal()))


@blueprint.put("/api/v1/me/queue")
@require(Permission.STREAM)
@validate_request(QueueIn)
@validate_response(QueueOut)
async def save_queue(data: QueueIn) -> QueueOut:
    """Save your play queue (at most 1,000 tracks), so another device can resume it."""
    queue = await services().playlists.save_queue(
        current_principal(), data.track_ids, data.current_index, data.position_s, data.client
    )
    return QueueOut.of(queue)
