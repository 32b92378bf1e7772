"""The media check: the store against the files on disk. Reports tracks whose renditions are
missing, originals that cannot be read, and folders in the media directory that belong to no
track; repairing re-queues the transcodes and removes the orphan folders."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import trio

from veza.nursery.jobs import Priority, Workers
from veza.store import Store
from veza.store.jobs import QUEUED, RUNNING
from veza.store.tracks import READY, Track
from veza.tracks import playback
from veza.tracks.media import MediaLayout
from veza.tracks.transcoding import TRANSCODE

log = logging.getLogger(__name__)

# A folder younger than this may be an upload being taken in (its row not yet committed).
ORPHAN_MIN_AGE_S = 600.0


@dataclass
class MediaReport:
    tracks: int = 0
    missing_renditions: list[str] = field(default_factory=list)  # track ids
    unreadable_originals: list[str] = field(default_factory=list)  # track ids
    orphan_folders: list[str] = field(default_factory=list)  # names in the media directory
    requeued: int = 0
    removed: int = 0

    @property
    def clean(self) -> bool:
        return not (self.missing_renditions or self.unreadable_originals or self.orphan_folders)


def _original_readable(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            file.read(1)
        return True
    except OSError:
        return False


def _renditions_present(layout: MediaLayout, track: Track) -> bool:
    """Every file a ready track's playing generation needs to start: its masters and each
    rendition's media playlist (blocking)."""
    hls = layout.hls_dir(track.id, track.generation)
    names = [r["name"] for r in track.renditions]
    needed = [hls / n / playback.MEDIA_PLAYLIST for n in names]
    needed += [hls / m for m in playback.masters(track, track.generation)]
    return bool(names) and all(path.is_file() for path in needed)


def _orphans(media_dir: Path, known: set[str], cutoff: float) -> list[str]:
    if not media_dir.is_dir():
        return []
    return sorted(
        entry.name
        for entry in media_dir.iterdir()
        if entry.name not in known and entry.lstat().st_mtime < cutoff
    )


class MediaCheck:
    def __init__(
        self,
        store: Store,
        layout: MediaLayout,
        workers: Workers,
        *,
        max_attempts: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._layout = layout
        self._workers = workers
        self._max_attempts = max_attempts
        self._clock = clock

    async def run(self, *, repair: bool = False) -> MediaReport:
        report = MediaReport()
        tracks = await self._store.tracks.all()
        report.tracks = len(tracks)
        for track in tracks:
            original = self._layout.original(track)
            if not await trio.to_thread.run_sync(_original_readable, original):
                report.unreadable_originals.append(track.id)
            elif track.status == READY and not await trio.to_thread.run_sync(
                _renditions_present, self._layout, track
            ):
                report.missing_renditions.append(track.id)
        cutoff = self._clock() - ORPHAN_MIN_AGE_S
        known = {track.id for track in tracks}
        report.orphan_folders = await trio.to_thread.run_sync(
            _orphans, self._layout.media_dir, known, cutoff
        )
        if repair:
            await self._repair(report)
        log.log(
            logging.INFO if report.clean else logging.WARNING,
            "media check: %d tracks, %d with renditions missing, %d originals unreadable, "
            "%d orphan folders%s",
            report.tracks,
            len(report.missing_renditions),
            len(report.unreadable_originals),
            len(report.orphan_folders),
            f"; {report.requeued} re-queued, {report.removed} removed" if repair else "",
        )
        return report

    async def _repair(self, report: MediaReport) -> None:
        for track_id in report.missing_renditions:
            latest = await self._store.jobs.latest_for(track_id)
            if (
                latest is not None
                and latest.kind == TRANSCODE
                and latest.status
                in (
                    QUEUED,
                    RUNNING,
                )
            ):
                continue
            await self._store.jobs.enqueue(
                TRANSCODE, track_id, max_attempts=self._max_attempts, priority=Priority.BACKGROUND
            )
            report.requeued += 1
        # Asked of the store again: a track may have been added since the check listed them.
        known = await self._store.tracks.ids()
        for name in report.orphan_folders:
            if name in known:
                continue
            path = self._layout.media_dir / name
            await trio.to_thread.run_sync(_remove, path)
            report.removed += 1
        if report.requeued:
            self._workers.wake()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
