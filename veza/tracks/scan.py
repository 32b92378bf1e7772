"""Music folders scanned in place: the scan job kind, asking for a scan, and its status.

A scan walks the configured folders (veza/tracks/folders.py), adds the audio files it has not
seen (their transcodes queued behind uploads; the files stay where they are and are never
written), takes in those that changed (size and mtime, then the content hash), and removes
the tracks whose file is gone. Each change commits on its own, so a scan cut short by a crash
keeps what it did; the job goes back to the queue and its next attempt, walking again, finds
that work done and carries on. One scan at a time, whichever process asked (a unique index).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import trio

from veza.errors import IntegrityError, UnsupportedMediaType, ValidationFailed, VezaError
from veza.events import Event, EventBus, topic
from veza.nursery.jobs import Commit, JobKind, JobProgress, Priority, Workers
from veza.store import Store, Transaction
from veza.store.folders import Source
from veza.store.jobs import QUEUED, RUNNING, Job
from veza.tracks import folders
from veza.tracks.service import Tracks
from veza.tracks.tags import read_tags
from veza.tracks.transcoding import TRANSCODE

log = logging.getLogger(__name__)

SCAN = "scan"
SUBJECT = "music-folders"

# Stores a cover found beside a file for a track: the catalogue's `store_cover(track_id, bytes)`.
StoreCover = Callable[[str, bytes], Awaitable[object]]


def library_topic() -> str:
    """Where scans report: `library:scan`."""
    return topic("library", "scan")


@dataclass(frozen=True)
class ScanProgress(Event):
    """A scan moved on; `fraction` of the files it found are dealt with."""

    type: ClassVar[str] = "scan.progress"
    job_id: str
    fraction: float


@dataclass(frozen=True)
class ScanFinished(Event):
    """A scan's outcome is committed."""

    type: ClassVar[str] = "scan.finished"
    job_id: str
    added: int
    updated: int
    removed: int
    unchanged: int
    skipped: int


@dataclass(frozen=True)
class ScanStatus:
    folders: int
    state: str  # idle, queued or running
    job_id: str | None
    progress: float
    last: dict[str, Any] | None  # the last finished scan's summary


class Scans:
    def __init__(
        self,
        store: Store,
        tracks: Tracks,
        workers: Workers,
        events: EventBus,
        roots: tuple[Path, ...],
        *,
        max_attempts: int,
        visibility: str = "public",
        store_cover: StoreCover | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._tracks = tracks
        self._workers = workers
        self._events = events
        self.roots = roots
        self._max_attempts = max_attempts
        self.visibility = visibility  # of the tracks found in music folders
        self._store_cover = store_cover
        self._clock = clock

    def kind(self) -> JobKind:
        return JobKind(
            SCAN, self._run, self._failed, self._progressed, subject="scan of", own_worker=True
        )

    # Asking, and telling how it goes

    async def request(self) -> Job | None:
        """Queue a scan unless one is queued or running already (that one is returned). None
        when no music folder is configured."""
        if not self.roots:
            return None
        # A scan whose worker died in another process (`veza scan` killed, say) would hold the
        # one-scan slot for ever: put it back in the queue once its lease ran out.
        for orphan in await self._store.jobs.orphans(expired_only=True):
            if orphan.kind == SCAN:
                await self._store.jobs.requeue(
                    orphan, orphan.worker, "interrupted; re-queued", refund_attempt=False
                )
        try:
            job = await self._store.jobs.enqueue(
                SCAN, SUBJECT, max_attempts=self._max_attempts, priority=Priority.BACKGROUND
            )
        except IntegrityError:
            active = await self._store.jobs.active(SCAN)
            if active is not None:
                return active
            raise
        self._workers.wake()
        return job

    async def status(self) -> ScanStatus:
        active = await self._store.jobs.active(SCAN)
        last = await self._store.folders.last_scan()
        if active is None:
            return ScanStatus(len(self.roots), "idle", None, 0.0, last)
        state = "running" if active.status == RUNNING else QUEUED
        return ScanStatus(len(self.roots), state, active.id, active.progress, last)

    def _progressed(self, job: Job, fraction: float) -> None:
        self._events.publish(library_topic(), ScanProgress(job.id, fraction))

    async def _failed(self, job: Job, reason: str, tx: Transaction) -> None:
        log.warning("scan of the music folders failed: %s", reason)

    # The scan

    async def _run(self, job: Job, progress: JobProgress) -> Commit:
        found = await trio.to_thread.run_sync(folders.walk, list(self.roots))
        for root in found.unreadable_roots:
            log.warning("music folder %s cannot be read; its tracks are kept", root)
        known = {source.path: source for source in await self._store.folders.sources()}
        counts: Counter[str] = Counter(found.skipped)
        total = max(1, len(found.files))
        for done, file in enumerate(found.files, start=1):
            source = known.pop(str(file.path), None)
            outcome = await self._take(file, source)
            counts[outcome] += 1
            await progress.report(done / total)
        for source in known.values():
            if self._may_be_gone(Path(source.path), found):
                track = await self._store.tracks.get(source.track_id)
                if track is not None:
                    await self._tracks.remove(track)
                    counts["removed"] += 1
        made = {key: counts.pop(key, 0) for key in ("added", "updated", "removed", "unchanged")}
        finished = ScanFinished(job.id, **made, skipped=sum(counts.values()))
        summary: dict[str, Any] = {
            "job_id": job.id,
            "finished_at": self._clock(),
            "folders": len(self.roots),
            "unreadable_folders": len(found.unreadable_roots),
            **made,
            "skipped": finished.skipped,
            "skipped_why": dict(sorted(counts.items())),
        }
        log.info("scan of the music folders: %s", summary)

        async def commit(tx: Transaction) -> None:
            await tx.folders.record_scan(summary)
            tx.on_commit(lambda: self._events.publish(library_topic(), finished))

        return commit

    def _may_be_gone(self, path: Path, found: folders.Walk) -> bool:
        """A file the walk did not see is gone, unless its folder could not be read at all
        (an unmounted disk must not empty the library)."""
        unreadable = [root.resolve() for root in found.unreadable_roots]
        return not any(path.is_relative_to(root) for root in unreadable)

    async def _take(self, file: folders.FoundFile, source: Source | None) -> str:
        """Add, update or leave one file; returns what was done (or why it was skipped)."""
        if source is not None and (source.size, source.mtime) == (file.size, file.mtime):
            return "unchanged"
        try:
            digest = await trio.to_thread.run_sync(folders.content_hash, file.path)
        except OSError:
            return folders.UNREADABLE
        if source is None:
            try:
                track = await self._tracks.add_in_place(
                    file.path, file.size, file.mtime, digest, self.visibility
                )
            except (UnsupportedMediaType, ValidationFailed) as refused:
                log.info("music folder: %s skipped: %s", file.path, refused.message)
                return folders.NOT_AUDIO
            await self._cover(track.id, file.path)
            return "added"
        await self._store.folders.set_source(
            source.track_id, str(file.path), file.size, file.mtime, digest
        )
        if digest == source.content_hash:
            return "unchanged"  # touched, not changed
        await self._changed(source.track_id, file.path)
        return "updated"

    async def _changed(self, track_id: str, path: Path) -> None:
        """The file's content changed: its tags are read again and it is transcoded anew (the
        generation that plays keeps playing meanwhile)."""
        tags = await trio.to_thread.run_sync(read_tags, path)
        async with self._store.transaction() as tx:
            track = await tx.tracks.get(track_id)
            if track is None:
                return
            # Through the track repository: the search index and album ids follow the tags.
            await tx.tracks.edit(
                track_id,
                {
                    "title": tags.title or track.title,
                    "artist": tags.artist,
                    "album": tags.album,
                    "album_artist": tags.album_artist,
                    "track_number": tags.track_number,
                    "disc_number": tags.disc_number,
                    "year": tags.year,
                    "genre": tags.genre,
                },
            )
            await tx.jobs.enqueue(
                TRANSCODE, track_id, max_attempts=self._max_attempts, priority=Priority.BACKGROUND
            )
        await self._cover(track_id, path)
        self._workers.wake()

    async def _cover(self, track_id: str, path: Path) -> None:
        if self._store_cover is None:
            return
        cover = await trio.to_thread.run_sync(folders.cover_beside, path)
        if cover is not None:
            try:
                await self._store_cover(track_id, cover)
            except VezaError as error:  # a damaged or hostile image: the track stays
                log.info("music folder: the cover beside %s is not used: %s", path, error.message)
