"""The playlists service: playlists, their entries and collaborators, export and import, and
each account's play queue. Knows nothing of HTTP.

Every edit is one transaction that first locks the playlist (`PlaylistRepository.lock`), so
edits of one playlist take turns whatever process makes them; it checks the permission table
and the caller's `If-Match` version under that lock, makes its change, moves the playlist to
its next version and, once committed, publishes `playlist.changed`.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import trio

from veza.accounts import Principal
from veza.accounts.policy import looks_like_id
from veza.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
)
from veza.events import Event, EventBus
from veza.playlists import formats
from veza.playlists.events import (
    Change,
    QueueChanged,
    playlist_changed,
    playlist_topic,
    user_topic,
)
from veza.playlists.matching import EntryMatcher
from veza.playlists.permissions import (
    Action,
    Relation,
    Visibility,
    allowed,
    may_play,
    relations_of,
)
from veza.store import Store, Transaction
from veza.store.playlists import (
    CollaboratorRow,
    EntryRow,
    PlaylistRow,
    PlaylistStats,
    QueueRow,
    TrackRemoval,
)
from veza.store.tracks import READY, Track
from veza.tracks import Playback, Tracks, covers
from veza.tracks.covers import CoverFile

log = logging.getLogger(__name__)

NAME_MAX_CHARS = 200
DESCRIPTION_MAX_CHARS = 2000
MAX_BATCH = 500  # entries added by one request
QUEUE_MAX_TRACKS = 1000
MATCH_PAGE_TRACKS = 500  # library tracks read at a time while an import is matched
COVER_TRACKS = 4  # a playlist's cover: the covers of its first playable tracks that have one
_READ_ATTEMPTS = 3

# What a refusal says, by action (the caller may read the playlist, or it would be a 404).
_REFUSALS = {
    Action.EDIT_ENTRIES: "only the owner and editors may change the entries",
    Action.EDIT_DETAILS: "only the owner may change the name, description or visibility",
    Action.SHARE: "only the owner may invite, change or remove collaborators",
    Action.TRANSFER: "only the owner may hand the playlist over",
    Action.LEAVE: "only a collaborator may leave",
    Action.DELETE: "only the owner (or a moderator, unless it is private) may delete it",
    Action.EXPORT: "you may not export this playlist",
}


@dataclass(frozen=True)
class EntryView:
    id: str
    position: int  # index in the playlist, from 0
    track_id: str
    track: Track | None  # None: not available to the caller (its details stay hidden)
    added_by: str | None
    added_at: float


@dataclass(frozen=True)
class PlaylistView:
    playlist: PlaylistRow
    track_count: int
    duration_s: float
    role: str | None  # the caller's: owner, editor, viewer, or None
    cover_track_ids: list[str]
    entries: list[EntryView] | None = None
    collaborators: list[CollaboratorRow] | None = None

    @property
    def version(self) -> int:
        return self.playlist.version


@dataclass(frozen=True)
class Edited:
    """The outcome of an edit: the playlist's new version and what the edit made."""

    version: int
    entries: list[EntryView] = field(default_factory=list)


@dataclass(frozen=True)
class Export:
    name: str
    playable: list[tuple[Track, Playback]]
    skipped: int
    expires_at: int


@dataclass(frozen=True)
class Unmatched:
    index: int
    title: str
    artist: str
    location: str


@dataclass(frozen=True)
class Imported:
    playlist: PlaylistView
    matched: int
    unmatched: list[Unmatched]


@dataclass
class _Edit:
    """One edit in progress, inside its transaction, with the playlist locked."""

    tx: Transaction
    playlist: PlaylistRow
    now: float
    change: str = ""
    entry_ids: list[str] = field(default_factory=list)
    user_ids: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    deleted: bool = False
    version: int = 0


def _check_id(value: str, what: str) -> None:
    if not looks_like_id(value):
        raise NotFound(f"no such {what}")


def _keep_only(folder: Path, digest: str) -> None:
    """Remove the cover sets in `folder` other than `digest`'s (blocking)."""
    for path in folder.iterdir():
        if path.name != digest:
            covers.remove(path)


def _unplayable(principal: Principal, track_ids: list[str], tracks: dict[str, Track]) -> list[str]:
    """Those of `track_ids` that name no track, or one `principal` may not play."""
    return [i for i in track_ids if i not in tracks or not may_play(principal, tracks[i])]


def _text(value: str, name: str, limit: int, *, required: bool = False) -> str:
    value = value.strip()
    if required and not value:
        raise ValidationFailed(f"{name}: must not be empty")
    if len(value) > limit or not all(c.isprintable() or c in "\n\t" for c in value):
        raise ValidationFailed(f"{name}: at most {limit} printable characters")
    return value


class Playlists:
    def __init__(
        self,
        store: Store,
        tracks: Tracks,
        events: EventBus,
        *,
        max_entries: int,
        export_token_ttl_s: int,
        covers_dir: Path,
        cpu_limiter: trio.CapacityLimiter,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._covers_dir = covers_dir
        self._cpu_limiter = cpu_limiter
        self._store = store
        self._tracks = tracks
        self._events = events
        self._max_entries = max_entries
        self._export_ttl_s = export_token_ttl_s
        self._clock = clock

    # Reading

    async def can_read(self, principal: Principal, playlist_id: str) -> bool:
        """Whether `principal` may read the playlist (and hear of its changes: the WebSocket
        asks this before a `subscribe` to `playlist:{id}`)."""
        try:
            await self._readable(principal, playlist_id)
        except NotFound:
            return False
        return True

    async def _readable(
        self, principal: Principal, playlist_id: str
    ) -> tuple[PlaylistRow, frozenset[Relation]]:
        _check_id(playlist_id, "playlist")
        playlist = await self._store.playlists.get(playlist_id)
        if playlist is None:
            raise NotFound("no such playlist")
        role = await self._store.playlists.role_of(playlist_id, principal.user.id)
        relations = relations_of(principal, playlist.owner_id, role)
        if not allowed(relations, Action.READ, Visibility(playlist.visibility)):
            raise NotFound("no such playlist")  # a private playlist is not admitted to exist
        return playlist, relations

    async def get(self, principal: Principal, playlist_id: str) -> PlaylistView:
        """The playlist with its entries (in order) and collaborators, all of one version: read
        optimistically, again if an edit slipped in between, under its lock at the last try."""
        await self._readable(principal, playlist_id)
        for attempt in range(_READ_ATTEMPTS):
            if attempt == _READ_ATTEMPTS - 1:
                async with self._store.transaction() as tx:
                    await tx.playlists.lock(playlist_id)
                    view = await self._read(tx, principal, playlist_id)
                return view
            view = await self._read(self._store, principal, playlist_id)
            latest = await self._store.playlists.get(playlist_id)
            if latest is None:
                raise NotFound("no such playlist")
            if latest.version == view.version:
                return view
        raise AssertionError("unreachable")

    async def _read(
        self, repositories: Store | Transaction, principal: Principal, playlist_id: str
    ) -> PlaylistView:
        repo = repositories.playlists
        stats = await repo.stats(playlist_id, principal.user.id)
        if stats is None:
            raise NotFound("no such playlist")
        rows = await repo.entries(playlist_id)
        tracks = {track.id: track for track in await repo.tracks_in(playlist_id)}
        collaborators = await repo.collaborators(playlist_id)
        entries = [
            self._entry_view(principal, row, index, tracks.get(row.track_id))
            for index, row in enumerate(rows)
        ]
        available = [e.track for e in entries if e.track is not None]
        return self._view(principal, stats, available, entries, collaborators)

    def _entry_view(
        self, principal: Principal, row: EntryRow, index: int, track: Track | None
    ) -> EntryView:
        shown = track if track is not None and may_play(principal, track) else None
        return EntryView(row.id, index, row.track_id, shown, row.added_by, row.added_at)

    def _view(
        self,
        principal: Principal,
        stats: PlaylistStats,
        first_tracks: list[Track],
        entries: list[EntryView] | None = None,
        collaborators: list[CollaboratorRow] | None = None,
    ) -> PlaylistView:
        pictured: list[str] = []
        for track in first_tracks:
            has_cover = track.cover is not None or bool(track.album_id)  # its own, its album's
            if has_cover and track.id not in pictured and may_play(principal, track):
                pictured.append(track.id)
            if len(pictured) == COVER_TRACKS:
                break
        owner = stats.playlist.owner_id == principal.user.id
        return PlaylistView(
            stats.playlist,
            stats.track_count,
            stats.duration_s,
            Relation.OWNER.value if owner else stats.role,
            pictured,
            entries,
            collaborators,
        )

    async def browse(
        self,
        principal: Principal,
        scope: str,
        query: str | None,
        after: tuple[float, str] | None,
        limit: int,
    ) -> list[PlaylistView]:
        """Newest first: the caller's own, shared with the caller, and public ones (`scope`
        narrows to one of them); `query` searches names."""
        found = await self._store.playlists.visible_to(
            principal.user.id, scope, query, after, limit
        )
        firsts: dict[str, list[Track]] = {}
        pairs = await self._store.playlists.first_tracks(
            [s.playlist.id for s in found], COVER_TRACKS * 2
        )
        for playlist_id, track in pairs:
            firsts.setdefault(playlist_id, []).append(track)
        return [self._view(principal, s, firsts.get(s.playlist.id, [])) for s in found]

    # Creating, changing, deleting

    async def create(
        self, principal: Principal, name: str, description: str, visibility: str
    ) -> PlaylistView:
        playlist = self._new(principal, name, description, visibility)
        async with self._store.transaction() as tx:
            await tx.playlists.create(playlist)
            self._after_commit(tx, playlist, Change.CREATED, principal.user.id, [])
        return await self.get(principal, playlist.id)

    def _new(
        self, principal: Principal, name: str, description: str, visibility: str
    ) -> PlaylistRow:
        now = self._clock()
        return PlaylistRow(
            id=secrets.token_hex(16),
            owner_id=principal.user.id,
            name=_text(name, "name", NAME_MAX_CHARS, required=True),
            description=_text(description, "description", DESCRIPTION_MAX_CHARS),
            visibility=Visibility(visibility).value,
            version=1,
            cover=None,
            created_at=now,
            updated_at=now,
        )

    async def update(
        self,
        principal: Principal,
        playlist_id: str,
        *,
        name: str | None,
        description: str | None,
        visibility: str | None,
        if_version: int | None,
    ) -> PlaylistView:
        async with self._edit(principal, playlist_id, Action.EDIT_DETAILS, if_version) as edit:
            current = edit.playlist
            new_name = (
                current.name if name is None else _text(name, "name", NAME_MAX_CHARS, required=True)
            )
            new_description = (
                current.description
                if description is None
                else _text(description, "description", DESCRIPTION_MAX_CHARS)
            )
            new_visibility = current.visibility if visibility is None else Visibility(visibility)
            edit.fields = [
                changed
                for changed, before, after in (
                    ("name", current.name, new_name),
                    ("description", current.description, new_description),
                    ("visibility", current.visibility, new_visibility),
                )
                if before != after
            ]
            await edit.tx.playlists.update_details(
                playlist_id, new_name, new_description, new_visibility
            )
            edit.change = Change.DETAILS
        return await self.get(principal, playlist_id)

    async def delete(self, principal: Principal, playlist_id: str, if_version: int | None) -> None:
        async with self._edit(principal, playlist_id, Action.DELETE, if_version) as edit:
            await edit.tx.playlists.delete(playlist_id)
            edit.change, edit.deleted = Change.DELETED, True
        await trio.to_thread.run_sync(covers.remove, self._covers_dir / playlist_id)

    # The cover

    async def set_cover(
        self, principal: Principal, playlist_id: str, image: bytes, if_version: int | None
    ) -> PlaylistView:
        """An uploaded cover (owner): decoded within bounds and re-encoded in every size by
        the catalogue's cover rules, never kept as it came. Stored under its content hash, so
        the row names a whole set of files whether or not the edit commits."""
        playlist, relations = await self._readable(principal, playlist_id)
        if not allowed(relations, Action.EDIT_DETAILS, Visibility(playlist.visibility)):
            raise Forbidden(_REFUSALS[Action.EDIT_DETAILS])  # before any decoding work
        rendered = await trio.to_thread.run_sync(covers.render, image, limiter=self._cpu_limiter)
        digest = covers.content_hash(rendered)
        folder = self._covers_dir / playlist_id
        await trio.to_thread.run_sync(covers.save, folder / digest, rendered)
        async with self._edit(principal, playlist_id, Action.EDIT_DETAILS, if_version) as edit:
            await edit.tx.playlists.set_cover(playlist_id, digest)
            edit.change, edit.fields = Change.DETAILS, ["cover"]
        await trio.to_thread.run_sync(_keep_only, folder, digest)
        return await self.get(principal, playlist_id)

    async def remove_cover(
        self, principal: Principal, playlist_id: str, if_version: int | None
    ) -> PlaylistView:
        """Back to the cover made from the first tracks' covers."""
        async with self._edit(principal, playlist_id, Action.EDIT_DETAILS, if_version) as edit:
            await edit.tx.playlists.set_cover(playlist_id, None)
            edit.change, edit.fields = Change.DETAILS, ["cover"]
        await trio.to_thread.run_sync(covers.remove, self._covers_dir / playlist_id)
        return await self.get(principal, playlist_id)

    async def cover(self, principal: Principal, playlist_id: str, size: int | None) -> CoverFile:
        """The uploaded cover at `size`, else the cover of the first of its first tracks
        available to the caller that has one; NotFound when none has."""
        playlist, _ = await self._readable(principal, playlist_id)
        if playlist.cover is not None:
            folder = self._covers_dir / playlist_id / playlist.cover
            found = await trio.to_thread.run_sync(covers.load, folder, size)
            if found is not None:
                return found
        view = await self.get(principal, playlist_id)
        for track_id in view.cover_track_ids:
            try:
                return await self._tracks.cover(principal, track_id, size)
            except NotFound:
                continue
        raise NotFound("the playlist has no cover")

    # Entries

    async def add_entries(
        self,
        principal: Principal,
        playlist_id: str,
        track_ids: list[str],
        position: int | None,
        if_version: int | None,
    ) -> Edited:
        """Add tracks at `position` (an index; default and past the end: at the end), in the
        order given; the same track may come more than once."""
        if not 1 <= len(track_ids) <= MAX_BATCH:
            raise ValidationFailed(f"track_ids: 1 to {MAX_BATCH} tracks")
        async with self._edit(principal, playlist_id, Action.EDIT_ENTRIES, if_version) as edit:
            repo = edit.tx.playlists
            tracks = {t.id: t for t in await edit.tx.tracks.get_many(track_ids)}
            missing = _unplayable(principal, track_ids, tracks)
            if missing:
                raise ValidationFailed(f"track_ids: no such track: {', '.join(missing[:5])}")
            count = await repo.count_entries(playlist_id)
            if count + len(track_ids) > self._max_entries:
                raise Conflict(f"a playlist holds at most {self._max_entries} entries")
            index = count if position is None else min(position, count)
            key = await repo.key_at(playlist_id, index) if index < count else None
            if key is None:
                key = await repo.end_key(playlist_id)
            else:
                await repo.shift(playlist_id, key, None, len(track_ids))
            added = []
            for offset, track_id in enumerate(track_ids):
                row = EntryRow(
                    secrets.token_hex(16),
                    playlist_id,
                    track_id,
                    key + offset,
                    principal.user.id,
                    edit.now,
                )
                await repo.insert_entry(row)
                added.append(self._entry_view(principal, row, index + offset, tracks[track_id]))
            edit.change, edit.entry_ids = Change.ENTRIES_ADDED, [e.id for e in added]
        return Edited(edit.version, added)

    async def remove_entry(
        self, principal: Principal, playlist_id: str, entry_id: str, if_version: int | None
    ) -> Edited:
        async with self._edit(principal, playlist_id, Action.EDIT_ENTRIES, if_version) as edit:
            entry = await self._entry(edit, entry_id)
            await edit.tx.playlists.delete_entry(entry.id)
            await edit.tx.playlists.shift(playlist_id, entry.position + 1, None, -1)
            edit.change, edit.entry_ids = Change.ENTRY_REMOVED, [entry.id]
        return Edited(edit.version)

    async def move_entry(
        self,
        principal: Principal,
        playlist_id: str,
        entry_id: str,
        position: int,
        if_version: int | None,
    ) -> Edited:
        """Move an entry to `position` (its index once moved; past the end: the last)."""
        async with self._edit(principal, playlist_id, Action.EDIT_ENTRIES, if_version) as edit:
            repo = edit.tx.playlists
            entry = await self._entry(edit, entry_id)
            count = await repo.count_entries(playlist_id)
            index = min(position, count - 1)
            target = await repo.key_at(playlist_id, index)
            assert target is not None
            here = entry.position
            if target != here:
                await repo.set_key(entry.id, -1)  # parked while the others make room
                if here < target:
                    await repo.shift(playlist_id, here + 1, target, -1)
                else:
                    await repo.shift(playlist_id, target, here - 1, 1)
                await repo.set_key(entry.id, target)
            track = await edit.tx.tracks.get(entry.track_id)
            moved = EntryRow(
                entry.id, playlist_id, entry.track_id, target, entry.added_by, entry.added_at
            )
            edit.change, edit.entry_ids = Change.ENTRY_MOVED, [entry.id]
        return Edited(edit.version, [self._entry_view(principal, moved, index, track)])

    async def _entry(self, edit: _Edit, entry_id: str) -> EntryRow:
        _check_id(entry_id, "entry")
        entry = await edit.tx.playlists.entry(edit.playlist.id, entry_id)
        if entry is None:
            raise NotFound("no such entry in this playlist")
        return entry

    # Collaborators

    async def add_collaborator(
        self,
        principal: Principal,
        playlist_id: str,
        user_id: str,
        role: str,
        if_version: int | None,
        *,
        replace: bool = False,
    ) -> tuple[CollaboratorRow, int]:
        """Invite an account as editor or viewer (Conflict if it is one already), or with
        `replace`, change the role of one who is (NotFound if it is not)."""
        if role not in (Relation.EDITOR, Relation.VIEWER):
            raise ValidationFailed("role: editor or viewer")
        async with self._edit(principal, playlist_id, Action.SHARE, if_version) as edit:
            if replace:  # the account is named in the path: one that is not there is a 404
                _check_id(user_id, "collaborator")
                if await edit.tx.playlists.role_of(playlist_id, user_id) is None:
                    raise NotFound("no such collaborator")
            await self._account(edit, user_id)
            if user_id == edit.playlist.owner_id:
                raise ValidationFailed("user_id: the owner is no collaborator of their own")
            known = await edit.tx.playlists.role_of(playlist_id, user_id)
            if not replace and known is not None:
                raise Conflict("already a collaborator: change the role instead")
            await edit.tx.playlists.set_collaborator(playlist_id, user_id, role, edit.now)
            collaborators = await edit.tx.playlists.collaborators(playlist_id)
            edit.change, edit.user_ids = Change.COLLABORATORS, [user_id]
        row = next(c for c in collaborators if c.user_id == user_id)
        return row, edit.version

    async def remove_collaborator(
        self, principal: Principal, playlist_id: str, user_id: str, if_version: int | None
    ) -> int:
        """The owner removes a collaborator; a collaborator may remove themself (leave)."""
        action = Action.LEAVE if user_id == principal.user.id else Action.SHARE
        async with self._edit(principal, playlist_id, action, if_version) as edit:
            _check_id(user_id, "collaborator")
            if not await edit.tx.playlists.remove_collaborator(playlist_id, user_id):
                raise NotFound("no such collaborator")
            edit.change, edit.user_ids = Change.COLLABORATORS, [user_id]
        return edit.version

    async def transfer(
        self, principal: Principal, playlist_id: str, user_id: str, if_version: int | None
    ) -> PlaylistView:
        """Hand the playlist to another account; the old owner stays on as an editor."""
        async with self._edit(principal, playlist_id, Action.TRANSFER, if_version) as edit:
            await self._account(edit, user_id)
            old = edit.playlist.owner_id
            if user_id == old:
                raise ValidationFailed("user_id: already the owner")
            await edit.tx.playlists.remove_collaborator(playlist_id, user_id)
            await edit.tx.playlists.set_owner(playlist_id, user_id)
            await edit.tx.playlists.set_collaborator(playlist_id, old, Relation.EDITOR, edit.now)
            edit.change, edit.user_ids = Change.OWNER, [user_id]
        return await self.get(principal, playlist_id)

    async def _account(self, edit: _Edit, user_id: str) -> None:
        """Check that an account named in a request body exists; ValidationFailed if not."""
        user = await edit.tx.accounts.user(user_id) if looks_like_id(user_id) else None
        if user is None:
            raise ValidationFailed("user_id: no such account")

    # The edit skeleton

    @asynccontextmanager
    async def _edit(
        self,
        principal: Principal,
        playlist_id: str,
        action: Action,
        if_version: int | None,
    ) -> AsyncIterator[_Edit]:
        _check_id(playlist_id, "playlist")
        async with self._store.transaction() as tx:
            playlist = await tx.playlists.lock(playlist_id)
            if playlist is None:
                raise NotFound("no such playlist")
            role = await tx.playlists.role_of(playlist_id, principal.user.id)
            relations = relations_of(principal, playlist.owner_id, role)
            visibility = Visibility(playlist.visibility)
            if not allowed(relations, Action.READ, visibility):
                raise NotFound("no such playlist")
            if not allowed(relations, action, visibility):
                raise Forbidden(_REFUSALS.get(action, "not allowed"))
            if if_version is not None and if_version != playlist.version:
                raise PreconditionFailed(
                    f"the playlist changed: it is at version {playlist.version}",
                    version=playlist.version,
                )
            # Members before and after the edit hear of it (one removed learns it was).
            tell = {
                playlist.owner_id,
                *(c.user_id for c in await tx.playlists.collaborators(playlist_id)),
            }
            edit = _Edit(tx, playlist, self._clock())
            yield edit
            if edit.deleted:
                edit.version = playlist.version + 1
            else:
                edit.version = await tx.playlists.bump(playlist_id, edit.now)
                after = await tx.playlists.get(playlist_id)
                assert after is not None
                tell.add(after.owner_id)
                tell |= {c.user_id for c in await tx.playlists.collaborators(playlist_id)}
            event = playlist_changed(
                playlist_id,
                edit.version,
                edit.change,
                principal.user.id,
                entry_ids=edit.entry_ids,
                user_ids=edit.user_ids,
                fields=edit.fields,
            )
            tx.on_commit(lambda: self._publish(playlist_id, sorted(tell), event))

    def _after_commit(
        self, tx: Transaction, playlist: PlaylistRow, change: str, by: str, entry_ids: list[str]
    ) -> None:
        event = playlist_changed(playlist.id, playlist.version, change, by, entry_ids=entry_ids)
        tx.on_commit(lambda: self._publish(playlist.id, [playlist.owner_id], event))

    def track_removed(self, removals: list[TrackRemoval], by: str | None) -> None:
        """A deleted track left these playlists (committed): tell whoever follows them."""
        for removal in removals:
            event = playlist_changed(
                removal.playlist_id,
                removal.version,
                Change.TRACK_REMOVED,
                by,
                entry_ids=removal.entry_ids,
            )
            self._publish(removal.playlist_id, sorted(set(removal.member_ids)), event)

    def _publish(self, playlist_id: str, members: list[str], event: Event) -> None:
        self._events.publish(playlist_topic(playlist_id), event)
        for user_id in members:
            self._events.publish(user_topic(user_id), event)

    # Export and import

    async def export(self, principal: Principal, playlist_id: str) -> Export:
        """Signed stream grants for every entry the caller may play, valid for the export
        token lifetime; entries not playable (yet) or not available are counted as skipped."""
        playlist, relations = await self._readable(principal, playlist_id)
        if not allowed(relations, Action.EXPORT, Visibility(playlist.visibility)):
            raise Forbidden(_REFUSALS[Action.EXPORT])
        view = await self.get(principal, playlist_id)
        playable: list[tuple[Track, Playback]] = []
        skipped = 0
        grants: dict[str, Playback | None] = {}
        for entry in view.entries or []:
            track = entry.track
            if track is None or track.status != READY:
                skipped += 1
                continue
            if track.id not in grants:
                try:
                    grants[track.id] = await self._tracks.playback(
                        principal, track.id, self._export_ttl_s
                    )
                except (Conflict, NotFound):
                    grants[track.id] = None
            grant = grants[track.id]
            if grant is None:
                skipped += 1
                continue
            playable.append((track, grant))
        expires = int(self._clock()) + self._export_ttl_s
        return Export(view.playlist.name, playable, skipped, expires)

    async def import_playlist(
        self, principal: Principal, data: bytes, name: str | None, visibility: str
    ) -> Imported:
        """A new playlist from an M3U/M3U8 or XSPF file: each entry matched to a track the
        caller may play, by title and artist (case and accents aside), else by file name."""
        title, entries = await trio.to_thread.run_sync(formats.parse_playlist, data)
        entries = entries[: self._max_entries]
        matcher = EntryMatcher(entries)
        after: tuple[float, str] | None = None
        while page := await self._store.playlists.ready_tracks_page(after, MATCH_PAGE_TRACKS):
            for track in page:
                if may_play(principal, track):
                    matcher.offer(track)
            after = (page[-1].created_at, page[-1].id)
        matched: list[str] = []
        unmatched: list[Unmatched] = []
        for entry in entries:
            found = matcher.match(entry)
            if found is None:
                unmatched.append(Unmatched(entry.index, entry.title, entry.artist, entry.location))
            else:
                matched.append(found.id)
        playlist = self._new(principal, name or title or "Imported playlist", "", visibility)
        async with self._store.transaction() as tx:
            await tx.playlists.create(playlist)
            for key, track_id in enumerate(matched):
                await tx.playlists.insert_entry(
                    EntryRow(
                        secrets.token_hex(16),
                        playlist.id,
                        track_id,
                        key,
                        principal.user.id,
                        playlist.created_at,
                    )
                )
            self._after_commit(tx, playlist, Change.CREATED, principal.user.id, [])
        log.info("imported a playlist: %d matched, %d not", len(matched), len(unmatched))
        view = await self.get(principal, playlist.id)
        return Imported(view, len(matched), unmatched)

    # The play queue

    async def queue(self, principal: Principal) -> QueueRow:
        """The caller's queue, without the tracks that are gone or no longer playable."""
        saved = await self._store.queues.get(principal.user.id)
        if saved is None:
            return QueueRow([], 0, 0.0, "", 0.0)
        tracks = {t.id: t for t in await self._store.tracks.get_many(saved.track_ids)}
        gone = set(_unplayable(principal, saved.track_ids, tracks))
        keep = [i for i in saved.track_ids if i not in gone]
        dropped_before = sum(1 for i in saved.track_ids[: saved.current_index] if i in gone)
        current = max(0, min(saved.current_index - dropped_before, len(keep) - 1))
        return QueueRow(keep, current, saved.position_s, saved.changed_by, saved.updated_at)

    async def save_queue(
        self,
        principal: Principal,
        track_ids: list[str],
        current_index: int,
        position_s: float,
        changed_by: str,
    ) -> QueueRow:
        if len(track_ids) > QUEUE_MAX_TRACKS:
            raise ValidationFailed(f"track_ids: at most {QUEUE_MAX_TRACKS} tracks")
        if current_index > max(0, len(track_ids) - 1):
            raise ValidationFailed("current_index: must point into track_ids")
        tracks = {t.id: t for t in await self._store.tracks.get_many(track_ids)}
        missing = _unplayable(principal, track_ids, tracks)
        if missing:
            raise ValidationFailed(f"track_ids: no such track: {', '.join(missing[:5])}")
        queue = QueueRow(track_ids, current_index, position_s, changed_by, self._clock())
        await self._store.queues.save(principal.user.id, queue)
        self._events.publish(
            user_topic(principal.user.id),
            QueueChanged(principal.user.id, changed_by, queue.updated_at),
        )
        return queue
