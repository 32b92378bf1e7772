"""The tracks service: taking in an original file, browsing and reading the catalogue, deleting,
and the ways to listen (signed HLS, the original, the waveform). Knows nothing of HTTP."""

from __future__ import annotations

import logging
import mimetypes
import secrets
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from veza.accounts import Permission, Principal
from veza.audio.decode import SourceInfo
from veza.audio.ladder import Rendition, ladder_spec
from veza.errors import (
    Conflict,
    Forbidden,
    IntegrityError,
    NotFound,
    UnsupportedMediaType,
    ValidationFailed,
    VezaError,
)
from veza.events import EventBus, topic
from veza.files import copy_atomically, make_dirs, move_into_place, remove_temporary_files
from veza.nursery.jobs import Priority, Workers
from veza.store import Store
from veza.store.playlists import TrackRemoval
from veza.store.tracks import PROCESSING, PUBLIC, READY, NewTrack, Track, TrackSearch
from veza.tracks import covers, playback
from veza.tracks.cache import HlsCache
from veza.tracks.covers import CoverFile, CoverLayout
from veza.tracks.events import TrackAdded
from veza.tracks.loudness import PlaybackLoudness, playback_loudness
from veza.tracks.media import MediaLayout
from veza.tracks.playback import ServedFiles, SignablePlaylist
from veza.tracks.reasons import public_reason
from veza.tracks.tags import TAG_MAX_CHARS, Tags, read_tags, safe_extension
from veza.tracks.transcoding import TRANSCODE
from veza.tracks.visibility import can_edit, can_see, checked_visibility, listed_for
from veza.transcode import Fault, TranscodeError, TranscodeOptions, probe

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Playback:
    """A grant to play one track: the token every HLS URI carries, valid until `expires_at`,
    for the generation to play and its master playlists (AAC first, then MP3)."""

    track_id: str
    token: str
    expires_at: int
    generation: int
    masters: tuple[str, ...]


@dataclass(frozen=True)
class HlsFile:
    body: bytes
    content_type: str
    final: bool  # a finished playlist or a segment: it never changes


@dataclass(frozen=True)
class HlsLocation:
    """A checked segment for a reverse proxy to send: its path under the media directory."""

    path: str
    content_type: str


class Tracks:
    def __init__(
        self,
        store: Store,
        layout: MediaLayout,
        workers: Workers,
        *,
        secret: str,
        stream_token_ttl_s: int,
        upload_dir: Path,
        max_attempts: int,
        transcode_options: TranscodeOptions,
        cpu_limiter: trio.CapacityLimiter,
        ladder: tuple[Rendition, ...],
        hls_cache: HlsCache,
        clock: Callable[[], float] = time.time,
        cover_layout: CoverLayout | None = None,
        default_visibility: str = PUBLIC,
        removed_from_playlists: Callable[[list[TrackRemoval], str | None], None] = (
            lambda *_: None
        ),
        events: EventBus | None = None,
    ) -> None:
        """`removed_from_playlists(removals, by)` is told, after the commit, of the playlists a
        deleted track left (the playlists service publishes their changes)."""
        self._ladder_spec = ladder_spec(ladder)
        self._events = events
        self._store = store
        self.media = layout  # where its files live (read by tests and housekeeping)
        self._workers = workers
        self._secret = secret
        self._stream_token_ttl_s = stream_token_ttl_s
        self._upload_dir = upload_dir
        self._max_attempts = max_attempts
        self._transcode_options = transcode_options
        self._cpu_limiter = cpu_limiter
        self._clock = clock
        self._hls_cache = hls_cache
        self._removed_from_playlists = removed_from_playlists
        self.covers = cover_layout or CoverLayout(
            layout.media_dir, layout.media_dir.parent / "covers"
        )
        self._default_visibility = default_visibility

    # Reading the catalogue

    async def get(self, track_id: str) -> Track:
        track = await self._store.tracks.get(track_id)
        if track is None:
            raise NotFound("no such track")
        return track

    async def processing_of(self, owner_id: str, limit: int = 64) -> list[str]:
        """The ids of the owner's tracks whose transcode is not over, oldest first (what their
        live connections follow)."""
        return await self._store.tracks.processing_of(owner_id, limit)

    def loudness(self, track: Track) -> PlaybackLoudness:
        """Whether the renditions were normalised and the gain a player adds if not, towards
        the configured target (one computation for every client)."""
        options = self._transcode_options
        return playback_loudness(track, options.target_lufs, options.true_peak_ceiling_dbtp)

    async def progress(self, track: Track) -> float:
        """How much of the track's transcode is done, 0 to 1."""
        if track.status == READY:
            return 1.0
        if track.status != PROCESSING:  # only a track still processing is worth a query
            return 0.0
        job = await self._store.jobs.latest_for(track.id)
        return job.progress if job is not None else 0.0

    # Taking files in

    async def import_file(
        self,
        source: Path,
        *,
        owner_id: str | None = None,
        tags: Tags | None = None,
        visibility: str | None = None,
        content_hash: str | None = None,
    ) -> Track:
        """Copy a file into the library and queue its transcode; tags given win over the file's.
        A file that is not audio we can read is refused (UnsupportedMediaType, ValidationFailed).
        With its `content_hash`, a file its owner already has is not copied again: that track
        comes back instead."""
        return await self._add(
            source,
            source.name,
            owner_id,
            tags,
            copy_atomically,
            visibility,
            content_hash=content_hash,
        )

    async def add_upload(
        self,
        spooled: Path,
        filename: str,
        *,
        owner_id: str,
        tags: Tags | None = None,
        visibility: str | None = None,
        content_hash: str | None = None,
    ) -> Track:
        """Move an uploaded file (spooled in the upload directory) into the library. `filename`
        is the client's: it gives a title and an extension, never a path. Refused as
        `import_file` refuses, before anything is moved; one the owner already has (same
        `content_hash`) gives that track back, as `import_file` does. `visibility` None: the
        configured default (public for a track without an owner)."""
        return await self._add(
            spooled,
            filename,
            owner_id,
            tags,
            move_into_place,
            visibility,
            content_hash=content_hash,
        )

    async def owned_copy(self, owner_id: str, content_hash: str) -> Track | None:
        """The owner's track of this content (SHA-256 of the original), if they have one."""
        return await self._store.tracks.by_content(owner_id, content_hash)

    async def add_in_place(
        self,
        path: Path,
        size: int,
        mtime: float,
        content_hash: str | None,
        visibility: str | None = None,
    ) -> Track:
        """A file of a music folder into the library, left where it is (its transcode reads
        it there; nothing writes it): owned by no one, transcoded behind uploads."""
        return await self._add(
            path,
            path.name,
            None,
            None,
            _left_in_place,
            visibility,
            content_hash=content_hash,
            in_place=(size, mtime),
        )

    async def _add(
        self,
        source: Path,
        filename: str,
        owner_id: str | None,
        tags: Tags | None,
        place: Callable[[Path, Path], int],
        visibility: str | None = None,
        *,
        content_hash: str | None = None,
        in_place: tuple[int, float] | None = None,
    ) -> Track:
        # A track with no owner belongs to the library (an import, a music folder): hidden by
        # default it would be seen by moderators and admins alone.
        default = PUBLIC if owner_id is None else self._default_visibility
        visibility = checked_visibility(visibility or default)
        if content_hash is not None and owner_id is not None:
            existing = await self.owned_copy(owner_id, content_hash)
            if existing is not None:
                return existing
        info = await self._check_audio(source, filename)
        track_id = secrets.token_hex(12)
        extension = safe_extension(filename)
        directory = self.media.track_dir(track_id)
        original = source if in_place is not None else directory / f"original{extension}"
        await trio.to_thread.run_sync(make_dirs, directory)
        try:
            size = await trio.to_thread.run_sync(place, source, original)
            found = (tags or Tags()).over(await trio.to_thread.run_sync(read_tags, original))
            cover = await self._embedded_cover(track_id, found.picture, filename)
            fallback_title = Path(filename).stem[:TAG_MAX_CHARS] or "untitled"
            new = NewTrack(
                id=track_id,
                owner_id=owner_id,
                title=found.title or fallback_title,
                artist=found.artist,
                album=found.album,
                original_name=filename[:TAG_MAX_CHARS],
                original_ext=extension,
                original_bytes=size,
                album_artist=found.album_artist,
                track_number=found.track_number,
                disc_number=found.disc_number,
                year=found.year,
                genre=found.genre,
                replaygain_track_gain_db=found.replaygain_track_gain_db,
                replaygain_track_peak=found.replaygain_track_peak,
                replaygain_album_gain_db=found.replaygain_album_gain_db,
                replaygain_album_peak=found.replaygain_album_peak,
                visibility=visibility,
                duration_s=info.duration_s,  # the probe's, until the transcode decodes it all
            )
            async with self._store.transaction() as tx:
                await tx.tracks.create(new)
                if cover is not None:
                    await tx.tracks.set_cover(track_id, cover)
                # The library's columns: what the original holds, where it stays.
                if in_place is not None:
                    mtime = in_place[1]
                    await tx.folders.set_source(track_id, str(source), size, mtime, content_hash)
                elif content_hash is not None:
                    await tx.tracks.set_content_hash(track_id, content_hash)
                await tx.jobs.enqueue(
                    TRANSCODE,
                    track_id,
                    max_attempts=self._max_attempts,
                    priority=Priority.INTERACTIVE if in_place is None else Priority.BACKGROUND,
                )
                if owner_id is not None and self._events is not None:
                    added, events = TrackAdded(track_id, owner_id), self._events
                    tx.on_commit(lambda: events.publish(topic("user", owner_id), added))
        except BaseException as error:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(shutil.rmtree, directory, True)
            if isinstance(error, IntegrityError) and content_hash and owner_id:
                # The same file, uploaded twice at once: the other request stored it first.
                existing = await self.owned_copy(owner_id, content_hash)
                if existing is not None:
                    return existing
            raise
        self._workers.wake()
        return await self.get(track_id)

    async def _check_audio(self, source: Path, filename: str) -> SourceInfo:
        """Refuse what the transcode would refuse, with the probe the transcode starts with
        (libsndfile, then ffprobe; in a thread and a child process, each with a deadline)."""
        try:
            return await probe(source, self._transcode_options, self._cpu_limiter)
        except TranscodeError as error:
            if error.fault is Fault.INTERNAL:
                log.error("cannot check %r: %s", filename, error)
                raise VezaError() from None
            log.info("refused %r: %s", filename, error)
            reason = public_reason(error.reason)
            if error.fault is Fault.NOT_AUDIO:
                raise UnsupportedMediaType(reason) from None
            raise ValidationFailed(reason) from None  # empty, or damaged

    # Removing

    async def delete(self, principal: Principal, track_id: str) -> None:
        """Remove a track, its job and every file it has. Its owner may, and so may a moderator
        or an admin. A transcode of it in this process is stopped before the folder is removed,
        so nothing writes into it afterwards. (NotFound for a track the caller may not see.)"""
        track = await self.visible(principal, track_id)
        if track.owner_id != principal.user.id and not principal.can(Permission.MODERATE):
            raise Forbidden("only the track's owner or a moderator may delete it")
        await self.remove(track, by=principal.user.id)

    async def remove(self, track: Track, *, by: str | None = None) -> None:
        """Remove a track as `delete` does, on no one's behalf (its file left a music folder)
        unless `by` names the account. A music folder's original is not Veza's: it stays
        where it is."""
        async with self._store.transaction() as tx:
            await tx.jobs.delete_for(track.id)
            # Out of every playlist, each at its next version (so its ETag changes too).
            removals = await tx.playlists.remove_track(track.id, self._clock())
            tx.on_commit(lambda: self._removed_from_playlists(removals, by))
            await tx.tracks.delete(track.id)
        # Rows first: a worker that claimed the job but is not yet running it then finds no
        # track and stops; one already running it is stopped here, before the folder goes.
        await self._workers.cancel(track.id)
        self._hls_cache.forget(track.id)  # not served from memory either, from now on
        await trio.to_thread.run_sync(shutil.rmtree, self.media.track_dir(track.id), True)

    # Listening

    async def playback(
        self, principal: Principal | None, track_id: str, ttl_s: int | None = None
    ) -> Playback:
        """A signed grant to play the track (for a caller who may see it): the generation that
        plays, or while the first transcode runs, the one being written as soon as every
        rendition has a segment. Valid for `ttl_s` (default: the stream token's lifetime).
        Conflict while there is nothing to play yet."""
        track = await self.visible(principal, track_id)
        generation = track.generation if track.status == READY else track.building_generation
        found: list[str] = []
        if generation is not None:
            hls = trio.Path(self.media.hls_dir(track.id, generation))
            names = [r.name for r in playback.parse_ladder(track.building_ladder or "")]
            if generation == track.generation:
                names = [r["name"] for r in track.renditions]
            started = [await (hls / n / playback.MEDIA_PLAYLIST).exists() for n in names]
            if started and all(started):
                found = [m for m in playback.masters(track, generation) if await (hls / m).exists()]
        if generation is None or not found:
            raise Conflict(f"the track is not playable yet ({track.status})")
        expires = int(self._clock()) + (ttl_s or self._stream_token_ttl_s)
        token = playback.sign(self._secret, track.id, expires)
        return Playback(track.id, token, expires, generation, tuple(found))

    async def hls_playlist(
        self, track_id: str, generation: int, token: str, name: str, rendition: str | None
    ) -> HlsFile:
        """A master playlist (`name`, no rendition) or a rendition's media playlist, signed.
        Finished playlists of settled generations come from memory; one still being written
        is read each time (it grows with every segment)."""
        playback.verify(self._secret, track_id, token, self._clock())
        if rendition is None:
            if name not in playback.MASTERS.values():
                raise NotFound("no such playlist")
            key = (track_id, generation, "", name)
        else:
            key = (track_id, generation, rendition, playback.MEDIA_PLAYLIST)
        served = await self._served(track_id, generation, rendition)
        settled = served.is_settled(generation)

        async def load() -> tuple[SignablePlaylist | None, bool]:
            hls = self._hls_dir(track_id, generation)
            path = hls / name if rendition is None else hls / rendition / playback.MEDIA_PLAYLIST
            text = await _read_or_none(path)
            if text is None:
                return None, False
            playlist = playback.signable(text.decode())
            return playlist, final(playlist)

        def final(playlist: SignablePlaylist) -> bool:
            # A master of a settled generation never changes; a media playlist once it ended.
            return settled and (rendition is None or playlist.ended)

        playlist = await self._hls_cache.playlist(key, load)
        if playlist is None:
            raise NotFound("no such file")
        body = playlist.signed(token)
        return HlsFile(body, "application/vnd.apple.mpegurl", final(playlist))

    async def hls_segment(
        self, track_id: str, generation: int, token: str, rendition: str, segment: str
    ) -> HlsFile:
        """A segment's bytes: from memory once read (segments never change once written; those
        of a generation still being written are read each time, since a retried job starts that
        generation over)."""
        name, content_type, served = await self._segment(
            track_id, generation, token, rendition, segment
        )

        async def load() -> tuple[bytes | None, bool]:
            path = self._hls_dir(track_id, generation) / rendition / name
            return await _read_or_none(path), served.is_settled(generation)

        body = await self._hls_cache.segment((track_id, generation, rendition, name), load)
        if body is None:
            raise NotFound("no such file")
        return HlsFile(body, content_type, final=True)

    async def hls_segment_location(
        self, track_id: str, generation: int, token: str, rendition: str, segment: str
    ) -> HlsLocation:
        """Where a segment lies under the media directory, checked as `hls_segment` checks it,
        for a reverse proxy to send (offload); the file itself is not read."""
        name, content_type, _ = await self._segment(track_id, generation, token, rendition, segment)
        hls = self._hls_dir(track_id, generation).relative_to(self.media.media_dir)
        return HlsLocation((hls / rendition / name).as_posix(), content_type)

    async def _segment(
        self, track_id: str, generation: int, token: str, rendition: str, segment: str
    ) -> tuple[str, str, ServedFiles]:
        """A checked segment request: its file name, content type, and what its track serves."""
        playback.verify(self._secret, track_id, token, self._clock())
        name, content_type = playback.segment_name(segment)
        return name, content_type, await self._served(track_id, generation, rendition)

    async def _served(
        self, track_id: str, generation: int, rendition: str | None = None
    ) -> ServedFiles:
        """What the track's row says may be fetched, NotFound unless it includes `generation`
        (and `rendition`). Kept in memory for a short while; what the kept copy does not include
        is asked of the database before it is refused (a generation may have just started)."""

        async def load() -> ServedFiles | None:
            track = await self._store.tracks.get(track_id)
            return None if track is None else playback.served_files(track)

        def includes(served: ServedFiles | None) -> bool:
            if served is None or not served.has_generation(generation):
                return False
            return rendition is None or served.has_rendition(generation, rendition)

        served = await self._hls_cache.served(track_id, load)
        if not includes(served):
            served = await self._hls_cache.served(track_id, load, fresh=True)
        if served is None or not served.has_generation(generation):
            raise NotFound("no such track or generation")
        if not includes(served):
            raise NotFound("no such rendition")
        return served

    def _hls_dir(self, track_id: str, generation: int) -> Path:
        return self.media.hls_dir(track_id, generation)

    async def requeue_other_ladders(self) -> int:
        """Queue a re-transcode, behind new uploads, of every track made with another ladder;
        its current generation keeps playing meanwhile. Returns how many were queued."""
        stale = await self._store.tracks.made_with_another_ladder(self._ladder_spec, TRANSCODE)
        async with self._store.transaction() as tx:
            for track_id in stale:
                await tx.jobs.enqueue(
                    TRANSCODE,
                    track_id,
                    max_attempts=self._max_attempts,
                    priority=Priority.BACKGROUND,
                )
        if stale:
            log.info("the ladder changed: %d track(s) queued for re-transcoding", len(stale))
            self._workers.wake()
        return len(stale)

    async def original(self, principal: Principal | None, track_id: str) -> tuple[Path, str]:
        """The uploaded file as it came, and its content type."""
        track = await self.visible(principal, track_id)
        mimetype = mimetypes.guess_type(f"x{track.original_ext}")[0] or "application/octet-stream"
        return self.media.original(track), mimetype

    async def waveform(self, principal: Principal | None, track_id: str) -> bytes:
        """Min/max peaks for drawing, as JSON; Conflict until the transcode made them."""
        track = await self.visible(principal, track_id)
        generation = track.generation if track.status == READY else track.building_generation
        path = trio.Path(self.media.hls_dir(track.id, generation or 0) / "waveform.json")
        try:
            return await path.read_bytes()
        except FileNotFoundError:
            raise Conflict(f"the waveform is not ready yet ({track.status})") from None

    # The catalogue: who sees what, tag edits, search, covers

    async def visible(self, principal: Principal | None, track_id: str) -> Track:
        """The track, for a caller who may see it (veza/tracks/visibility.py); NotFound
        otherwise, as for a track that does not exist."""
        track = await self._store.tracks.get(track_id)
        if track is None or not can_see(principal, track):
            raise NotFound("no such track")
        return track

    async def search(
        self,
        principal: Principal | None,
        criteria: TrackSearch,
        after: tuple[Any, ...] | None,
        limit: int,
    ) -> Sequence[tuple[Track, tuple[Any, ...]]]:
        """Tracks listed for the caller that match `criteria`, each with its sort key."""
        return await self._store.tracks.search(criteria, listed_for(principal), after, limit)

    async def edit(self, principal: Principal, track_id: str, changes: dict[str, Any]) -> Track:
        """Change tags and visibility (already checked by the caller, see tags.checked_tag),
        as its owner, a moderator or an admin; Forbidden for anyone else who sees it."""
        track = await self.visible(principal, track_id)
        if not can_edit(principal, track):
            raise Forbidden("only the track's owner, a moderator or an admin may edit it")
        if "visibility" in changes:
            changes["visibility"] = checked_visibility(changes["visibility"])
        if "title" in changes and not changes["title"]:
            raise ValidationFailed("title: must not be empty")
        if changes:
            async with self._store.transaction() as tx:
                await tx.tracks.edit(track.id, changes)
        return await self.get(track.id)

    async def set_cover(self, principal: Principal, track_id: str, image: bytes) -> Track:
        """A cover uploaded for the track, by its owner, a moderator or an admin."""
        track = await self.visible(principal, track_id)
        if not can_edit(principal, track):
            raise Forbidden("only the track's owner, a moderator or an admin may change its cover")
        await self.store_cover(track.id, image)
        return await self.get(track.id)

    async def store_cover(self, track_id: str, image: bytes) -> str:
        """Decode, re-encode and store `image` as the track's cover, in every size; returns its
        content hash. Refused (4xx errors) as covers.render refuses. For any source of a cover:
        an upload, a file beside the track in a music folder."""
        rendered = await trio.to_thread.run_sync(covers.render, image, limiter=self._cpu_limiter)
        await trio.to_thread.run_sync(covers.save, self.covers.track_dir(track_id), rendered)
        digest = covers.content_hash(rendered)
        await self._store.tracks.set_cover(track_id, digest)
        return digest

    async def _embedded_cover(self, track_id: str, picture: bytes | None, name: str) -> str | None:
        """The cover found in the file's tags, stored; a picture that cannot be decoded is
        skipped (the track itself is fine)."""
        if picture is None:
            return None
        try:
            rendered = await trio.to_thread.run_sync(
                covers.render, picture, limiter=self._cpu_limiter
            )
        except VezaError as error:
            log.info("the picture in %r is not used as a cover: %s", name, error.message)
            return None
        await trio.to_thread.run_sync(covers.save, self.covers.track_dir(track_id), rendered)
        return covers.content_hash(rendered)

    async def cover(
        self, principal: Principal | None, track_id: str, size: int | None
    ) -> CoverFile:
        """The track's cover at `size` (covers.served_size), or its album's; NotFound when
        neither has one."""
        track = await self.visible(principal, track_id)
        directories = [self.covers.track_dir(track.id)] if track.cover is not None else []
        if track.album_id:
            directories.append(self.covers.album_dir(track.album_id))
        for directory in directories:
            found = await trio.to_thread.run_sync(covers.load, directory, size)
            if found is not None:
                return found
        raise NotFound("the track has no cover")

    async def refold(self) -> int:
        """Derive the search keys, words and album and artist ids of rows written before the
        catalogue existed or by an older fold (in batches, each one transaction)."""
        total = 0
        while True:
            async with self._store.transaction() as tx:
                done = await tx.tracks.refold(500)
            total += done
            if done < 500:
                break
        if total:
            log.info("derived search keys and album ids of %d track(s)", total)
        return total

    # Housekeeping

    async def prepare(self) -> None:
        """Create the media and upload folders; what an earlier run was receiving is gone."""

        def prepare_dirs() -> None:
            make_dirs(self.media.media_dir)
            make_dirs(self._upload_dir)
            remove_temporary_files(self._upload_dir)

        await trio.to_thread.run_sync(prepare_dirs)
        await self.refold()

    async def remove_orphans(self, older_than_s: float = 3600.0) -> int:
        """Track folders with no track (a delete cut short, another process's transcode of a
        deleted track) and abandoned uploads, once they are old enough not to be in use."""
        known = await self._store.tracks.ids()
        cutoff = self._clock() - older_than_s
        media_dir, upload_dir = self.media.media_dir, self._upload_dir

        def sweep() -> int:
            removed = 0
            for path in [*media_dir.iterdir(), *upload_dir.iterdir()]:
                stale = path.stat().st_mtime < cutoff
                if stale and (path.parent == upload_dir or path.name not in known):
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
                    removed += 1
            return removed

        removed = await trio.to_thread.run_sync(sweep)
        if removed:
            log.info("removed %d orphaned media folders or uploads", removed)
        return removed


def _left_in_place(source: Path, original: Path) -> int:
    """How `_add` "places" a music folder's file: it stays; only its size is read."""
    return source.stat().st_size


async def _read_or_none(path: Path) -> bytes | None:
    try:
        return await trio.Path(path).read_bytes()
    except FileNotFoundError:
        return None
