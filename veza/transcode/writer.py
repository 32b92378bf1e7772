"""The one task that owns a transcode's output directory: segments, playlists, waveform.

Every file is written under a temporary name, fsynced and renamed into place, so a visible file
is always complete; segments become visible in order, each followed by its playlist update.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from veza.audio import hls
from veza.audio.ladder import Rendition
from veza.audio.segmenter import Segment
from veza.files import fsync_dir, make_dirs, remove_temporary_files, write_atomically
from veza.transcode.result import TranscodeError


@dataclass
class _Track:
    rendition: Rendition
    sizes: list[int] = field(default_factory=list)
    samples: list[int] = field(default_factory=list)
    sample_rate: int = 0
    target: int | None = None

    def durations(self) -> list[float]:
        return [n / self.sample_rate for n in self.samples]

    def variant(self) -> hls.Variant:
        peak, average = hls.bandwidths(self.sizes, self.durations())
        return hls.Variant(self.rendition.name, self.rendition.hls_codec, peak, average)


class SegmentWriter:
    def __init__(self, out_dir: Path, renditions: tuple[Rendition, ...]) -> None:
        self.out_dir = out_dir
        self._tracks = {r.name: _Track(r) for r in renditions}
        self._master_written = False

    def track_sizes(self, name: str) -> tuple[list[int], list[int]]:
        track = self._tracks[name]
        return list(track.sizes), list(track.samples)

    def variant(self, name: str) -> hls.Variant:
        return self._tracks[name].variant()

    async def prepare(self) -> None:
        def make() -> None:
            remove_temporary_files(self.out_dir)
            for name in self._tracks:
                make_dirs(self.out_dir / name)

        try:
            await trio.to_thread.run_sync(make)
        except OSError as exc:
            raise TranscodeError(f"cannot create {self.out_dir}: {exc.strerror or exc}") from None

    async def run(self, segments: trio.MemoryReceiveChannel[tuple[str, Segment]]) -> None:
        async with segments:
            async for name, segment in segments:
                await self._store(name, segment)

    async def _store(self, name: str, segment: Segment) -> None:
        """The segment, its playlist update (and the first master): one worker-thread call,
        while this task, the only one touching the writer's state, waits for it."""
        track = self._tracks[name]
        if segment.index != len(track.sizes):
            raise AssertionError(f"{name}: segment {segment.index} out of order")
        if track.target is None:
            # Every segment but the last has the first one's length: the target never moves.
            track.target = hls.target_duration(segment.duration)
            track.sample_rate = segment.sample_rate

        def store() -> None:
            ext = track.rendition.extension
            self._write(self.out_dir / name / f"{segment.index}.{ext}", segment.data)
            track.sizes.append(len(segment.data))
            track.samples.append(segment.samples)
            self._write_media(track, finished=False)
            if not self._master_written and all(t.sizes for t in self._tracks.values()):
                self._write_master()
                self._master_written = True

        await trio.to_thread.run_sync(store)

    def _write_media(self, track: _Track, *, finished: bool) -> None:
        text = hls.media_playlist(
            track.durations(),
            target=track.target or 1,
            finished=finished,
            segment_uri=hls.default_segment_uri(track.rendition.extension),
        )
        self._write(self.out_dir / track.rendition.name / "index.m3u8", text.encode())

    def _write_master(self) -> None:
        variants = [t.variant() for t in self._tracks.values() if t.sizes]
        text = hls.master_playlist(variants, variant_uri=hls.default_variant_uri)
        self._write(self.out_dir / "master.m3u8", text.encode())

    async def write_json(self, name: str, value: Any) -> None:
        def write() -> None:
            self._write(self.out_dir / name, json.dumps(value, separators=(",", ":")).encode())

        await trio.to_thread.run_sync(write)

    async def finish(self) -> None:
        """VOD + ENDLIST playlists and the master with the measured bandwidths, then the
        directories synced: one worker-thread call."""

        def finish() -> None:
            for track in self._tracks.values():
                self._write_media(track, finished=True)
            self._write_master()
            for name in self._tracks:
                fsync_dir(self.out_dir / name)
            fsync_dir(self.out_dir)

        await trio.to_thread.run_sync(finish)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        """Blocking: called in worker threads only."""
        try:
            # Directories are synced once, in `finish`: a crash before it re-runs the job.
            write_atomically(path, data, sync_dir=False)
        except OSError as exc:
            raise TranscodeError(f"cannot write {path}: {exc.strerror or exc}") from None
