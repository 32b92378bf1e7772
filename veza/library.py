"""Tracks: taking in an original file, its tags, and turning it into renditions by a job."""

from __future__ import annotations

import logging
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mutagen
import trio

from veza.errors import NotFound
from veza.files import copy_atomically, make_dirs
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
        on_queued: Callable[[], object] = lambda: None,
    ) -> None:
        self.store = store
        self.media_dir = media_dir
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
        track_id = secrets.token_hex(12)
        extension = safe_extension(source.name)
        directory = self.track_dir(track_id)
        await trio.to_thread.run_sync(make_dirs, directory)
        try:
            size = await trio.to_thread.run_sync(
                copy_atomically, source, directory / f"original{extension}"
            )
            found = await trio.to_thread.run_sync(read_tags, directory / f"original{extension}")
            given = tags or Tags()
            new = NewTrack(
                id=track_id,
                owner_id=owner_id,
                title=given.title or found.title or Path(source.name).stem[:500],
                artist=given.artist or found.artist,
                album=given.album or found.album,
                original_name=source.name[:500],
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
