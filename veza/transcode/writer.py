"""The one task that owns a transcode's output directory: segments, playlists, waveform.

Every file is written under a temporary name, fsynced and renamed into place, so a visible file
is always complete; segments become visible in order, each followed by its playlist update.

A media playlist is an EVENT playlist from its first version (with its first segment) to its
last (with ENDLIST): each version is the previous one with lines appended. A master playlist
lists one codec family (`Rendition.master`) with bandwidths declared before any segment is
measured (`hls.declared_bandwidths`), so it is written once, when every rendition it lists has
a media playlist, and never changes after that.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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
    target: int = 0
    text: list[str] = field(default_factory=list)  # the media playlist so far, line groups

    def durations(self) -> list[float]:
        return [n / self.sample_rate for n in self.samples]

    def measured(self) -> hls.Variant:
        peak, average = hls.bandwidths(self.sizes, self.durations(), self.target or 1)
        return hls.Variant(self.rendition.name, self.rendition.hls_codec, peak, average)


@dataclass(frozen=True)
class Master:
    """A master playlist to write: its file name and the variants it declares."""

    name: str
    variants: tuple[hls.Variant, ...]


class SegmentWriter:
    def __init__(self, out_dir: Path, renditions: tuple[Rendition, ...]) -> None:
        self.out_dir = out_dir
        self._tracks = {r.name: _Track(r) for r in renditions}
        self._masters: list[Master] = []
        self._written: set[str] = set()

    def track_sizes(self, name: str) -> tuple[list[int], list[int]]:
        track = self._tracks[name]
        return list(track.sizes), list(track.samples)

    def variant(self, name: str) -> hls.Variant:
        """The rendition's bandwidths as measured over the segments written."""
        return self._tracks[name].measured()

    async def prepare(self) -> None:
        """The output folder and one folder per rendition in it. The output folder's parent
        must exist: a transcode never brings back a folder removed under it (a track deleted
        while its transcode starts)."""

        def make() -> None:
            self.out_dir.mkdir(exist_ok=True)
            fsync_dir(self.out_dir.parent)
            remove_temporary_files(self.out_dir)
            for name in self._tracks:
                make_dirs(self.out_dir / name)

        try:
            await trio.to_thread.run_sync(make)
        except OSError as exc:
            raise TranscodeError(f"cannot create {self.out_dir}: {exc.strerror or exc}") from None

    async def run(
        self,
        segments: trio.MemoryReceiveChannel[tuple[str, Segment]],
        masters: Sequence[Master],
    ) -> None:
        """Store every segment that comes, in order per rendition, and write each master
        playlist once all its renditions have a media playlist."""
        self._masters = list(masters)
        async with segments:
            async for name, segment in segments:
                await self._store(name, segment)

    async def _store(self, name: str, segment: Segment) -> None:
        """The segment, its playlist update (and a master whose renditions all have a
        playlist now): one worker-thread call, while this task, the only one touching the
        writer's state, waits for it."""
        track = self._tracks[name]
        if segment.index != len(track.sizes):
            raise AssertionError(f"{name}: segment {segment.index} out of order")
        if not track.text:
            track.target = segment.target_duration
            track.sample_rate = segment.sample_rate
            track.text.append(hls.media_header(track.target))
        if segment.duration >= track.target + 0.5:  # it would round above the target
            raise AssertionError(f"{name}: segment {segment.index} longer than the target")

        def store() -> None:
            ext = track.rendition.extension
            self._write(self.out_dir / name / f"{segment.index}.{ext}", segment.data)
            track.sizes.append(len(segment.data))
            track.samples.append(segment.samples)
            track.text.append(hls.media_segment(segment.duration, f"{segment.index}.{ext}"))
            self._write_media(track)
            self._write_masters(everything=False)

        await trio.to_thread.run_sync(store)

    def _write_media(self, track: _Track, *, end: str = "") -> None:
        text = "".join(track.text) + end
        self._write(self.out_dir / track.rendition.name / "index.m3u8", text.encode())

    def _write_masters(self, *, everything: bool) -> None:
        """Each master not written yet whose renditions all have segments (at the end: every
        master, a rendition without segments left out)."""
        for master in self._masters:
            if master.name in self._written:
                continue
            ready = [v for v in master.variants if self._tracks[v.name].sizes]
            if len(ready) < len(master.variants) and not (everything and ready):
                continue
            text = hls.master_playlist(ready, variant_uri=hls.default_variant_uri)
            self._write(self.out_dir / master.name, text.encode())
            self._written.add(master.name)

    async def write_json(self, name: str, value: Any) -> None:
        def write() -> None:
            self._write(self.out_dir / name, json.dumps(value, separators=(",", ":")).encode())

        await trio.to_thread.run_sync(write)

    async def finish(self) -> None:
        """ENDLIST appended to every media playlist (and a master still missing written),
        then the directories synced: one worker-thread call."""

        def finish() -> None:
            for track in self._tracks.values():
                if track.text:
                    self._write_media(track, end=hls.ENDLIST)
            self._write_masters(everything=True)
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
