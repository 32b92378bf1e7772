"""Tracks: taking in an original file, its tags, and turning it into renditions by a job."""

from __future__ import annotations

import logging
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mutagen
import trio

from veza.errors import NotFound
from veza.files import copy_atomically, make_dirs, move_into_place, remove_temporary_files
from veza.nursery.jobs import Commit, JobFailed, JobKind, JobProgress
from veza.store import Store
from veza.store.database import Executor
from veza.store.jobs import Job
from veza.store.tracks import Measurements, NewTrack, Track
from veza.transcode import TranscodeError, TranscodeOptions, TranscodeResult, transcode

log = logging.getLogger(__name__)

TRANSCODE = "transcode"

# The original keeps its extension only when it is one we know; it never names a path itself.
KNOWN_EXTENSIONS = frozenset(
    (
        ".wav",
        ".wave",
        ".flac",
        ".ogg",
        ".oga",
        ".opus",
        ".mp3",
        ".aif",
        ".aiff",
        ".aifc",
        ".m4a",
        ".mp4",
        ".aac",
        ".alac",
        ".wma",
        ".caf",
        ".w64",
        ".webm",
        ".mka",
    )
)


@dataclass(frozen=True)
class Tags:
    title: str = ""
    artist: str = ""
    album: str = ""


def read_tags(path: Path) -> Tags:
    """Title, artist and album from the file's own tags (blocking; empty when it has none)."""
    try:
        found = mutagen.File(path, easy=True)
    except (mutagen.MutagenError, OSError, ValueError):
        return Tags()
    if found is None or found.tags is None:
        return Tags()

    def first(key: str) -> str:
        values = found.tags.get(key) or [""]
        return str(values[0]).strip()[:500]

    return Tags(first("title"), first("artist"), first("album"))


def safe_extension(filename: str) -> str:
    extension = Path(filename).suffix.lower()
    return extension if extension in KNOWN_EXTENSIONS else ".bin"


class Library:
    def __init__(
        self,
        store: Store,
        media_dir: Path,
        *,
        transcode_options: TranscodeOptions,
        cpu_limiter: trio.CapacityLimiter,
        max_attempts: int,
        upload_dir: Path,
        on_queued: Callable[[], object] = lambda: None,
        on_deleted: Callable[[str], object] = lambda track_id: None,
    ) -> None:
        self.store = store
        self.media_dir = media_dir
        self.upload_dir = upload_dir
        self.on_deleted = on_deleted
        self.transcode_options = transcode_options
        self.cpu_limiter = cpu_limiter
        self.max_attempts = max_attempts
        self.on_queued = on_queued

    def track_dir(self, track_id: str) -> Path:
        return self.media_dir / track_id

    def hls_dir(self, track_id: str) -> Path:
        return self.track_dir(track_id) / "hls"

    def original_path(self, track: Track) -> Path:
        return self.track_dir(track.id) / f"original{track.original_ext}"

    async def get(self, track_id: str) -> Track:
        track = await self.store.tracks.get(track_id)
        if track is None:
            raise NotFound("no such track")
        return track

    async def import_file(
        self, source: Path, *, owner_id: str | None = None, tags: Tags | None = None
    ) -> Track:
        """Copy a file into the library and queue its transcode; tags given win over the file's."""
        return await self._add(source, source.name, owner_id, tags, copy_atomically)

    async def add_upload(
        self, spooled: Path, filename: str, *, owner_id: str, tags: Tags | None = None
    ) -> Track:
        """Move an uploaded file (spooled in the upload directory) into the library. `filename`
        is the client's: it gives a title and an extension, never a path."""
        return await self._add(spooled, filename, owner_id, tags, move_into_place)

    async def _add(
        self,
        source: Path,
        filename: str,
        owner_id: str | None,
        tags: Tags | None,
        place: Callable[[Path, Path], int],
    ) -> Track:
        track_id = secrets.token_hex(12)
        extension = safe_extension(filename)
        directory = self.track_dir(track_id)
        original = directory / f"original{extension}"
        await trio.to_thread.run_sync(make_dirs, directory)
        try:
            size = await trio.to_thread.run_sync(place, source, original)
            found = await trio.to_thread.run_sync(read_tags, original)
            given = tags or Tags()
            new = NewTrack(
                id=track_id,
                owner_id=owner_id,
                title=given.title or found.title or Path(filename).stem[:500] or "untitled",
                artist=given.artist or found.artist,
                album=given.album or found.album,
                original_name=filename[:500],
                original_ext=extension,
                original_bytes=size,
            )
            async with self.store.database.transaction() as tx:
                await self.store.tracks.create(new, tx)
                await self.store.jobs.enqueue(
                    TRANSCODE, track_id, max_attempts=self.max_attempts, tx=tx
                )
        except BaseException:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(shutil.rmtree, directory, True)
            raise
        self.on_queued()
        return await self.get(track_id)

    async def delete(self, track: Track) -> None:
        """Remove a track, its job and every file it has; a transcode of it in this process is
        cancelled first, so nothing writes into the folder as it goes."""
        self.on_deleted(track.id)
        async with self.store.database.transaction() as tx:
            await self.store.jobs.delete_for(track.id, tx)
            await self.store.tracks.delete(track.id, tx)
        await trio.to_thread.run_sync(shutil.rmtree, self.track_dir(track.id), True)

    async def prepare(self) -> None:
        """Create the media and upload folders; what an earlier run was receiving is gone."""

        def prepare_dirs() -> None:
            make_dirs(self.media_dir)
            make_dirs(self.upload_dir)
            remove_temporary_files(self.upload_dir)

        await trio.to_thread.run_sync(prepare_dirs)

    async def remove_orphans(self, older_than_s: float = 3600.0) -> int:
        """Track folders with no track (a delete cut short, another process's transcode of a
        deleted track) and abandoned uploads, once they are old enough not to be in use."""
        known = await self.store.tracks.ids()
        cutoff = time.time() - older_than_s

        def sweep() -> int:
            removed = 0
            for path in [*self.media_dir.iterdir(), *self.upload_dir.iterdir()]:
                stale = path.stat().st_mtime < cutoff
                if stale and (path.parent == self.upload_dir or path.name not in known):
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
                    removed += 1
            return removed

        removed = await trio.to_thread.run_sync(sweep)
        if removed:
            log.info("removed %d orphaned media folders or uploads", removed)
        return removed

    def job_kinds(self) -> list[JobKind]:
        return [JobKind(TRANSCODE, self._transcode, self._transcode_failed)]

    async def _transcode(self, job: Job, progress: JobProgress) -> Commit:
        track = await self.store.tracks.get(job.subject_id)
        if track is None:
            raise JobFailed("the track no longer exists")
        hls = self.hls_dir(track.id)
        # Whatever an interrupted attempt left behind goes; this attempt starts clean.
        await trio.to_thread.run_sync(shutil.rmtree, hls, True)
        await self.store.tracks.mark_processing(track.id)
        try:
            result = await transcode(
                self.original_path(track),
                hls,
                options=self.transcode_options,
                limiter=self.cpu_limiter,
                on_progress=progress.report,
            )
        except TranscodeError as error:
            raise JobFailed(error.reason) from error
        for notice in result.notices:
            log.warning("track %s: %s", track.id, notice)
        measured = _measurements(result)

        async def commit(tx: Executor) -> None:
            await self.store.tracks.mark_ready(track.id, measured, tx)

        return commit

    async def _transcode_failed(self, job: Job, reason: str, tx: Executor) -> None:
        await self.store.tracks.mark_failed(job.subject_id, reason, tx)


def _measurements(result: TranscodeResult) -> Measurements:
    renditions = [
        {
            "name": r.name,
            "codec": r.codec,
            "bitrate_kbps": r.bitrate_kbps,
            "codecs": r.hls_codec,
            "segments": r.segment_count,
            "peak_bandwidth": r.peak_bandwidth,
            "average_bandwidth": r.average_bandwidth,
        }
        for r in result.renditions
    ]
    return Measurements(
        duration_s=result.duration_s,
        loudness_lufs=result.loudness.integrated_lufs,
        true_peak_dbtp=result.loudness.true_peak_dbtp,
        gain_db=result.loudness.gain_db,
        renditions=renditions,
    )
