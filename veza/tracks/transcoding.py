"""The transcode job kind: turns a track's original into its HLS renditions, and records the
result (or the failure) on the track in the transaction that settles the job."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable

import trio

from veza.audio.ladder import Rendition, ladder_spec
from veza.events import EventBus
from veza.nursery.jobs import Commit, JobFailed, JobKind, JobProgress
from veza.store import Store, Transaction
from veza.store.jobs import Job
from veza.store.tracks import READY, Measurements
from veza.tracks.events import TrackFailed, TrackProgress, TrackReady, track_topic
from veza.tracks.media import MediaLayout
from veza.tracks.reasons import public_reason
from veza.transcode import (
    TranscodeError,
    TranscodeOptions,
    TranscodeResult,
    transcode,
    usable_ladder,
)

log = logging.getLogger(__name__)

TRANSCODE = "transcode"


class TranscodeJobs:
    """The job kind, and the events it publishes on `track:{id}`: progress as it goes, then
    ready or failed once the outcome is committed."""

    def __init__(
        self,
        store: Store,
        layout: MediaLayout,
        options: TranscodeOptions,
        cpu_limiter: trio.CapacityLimiter,
        events: EventBus,
        ladder: tuple[Rendition, ...],
        on_settled: Callable[[str], None] = lambda track_id: None,
    ) -> None:
        """`on_settled(track_id)` runs once a transcode's outcome is committed (the track's
        generations changed): what keeps a copy of the row (the HLS cache) drops it."""
        self._store = store
        self._layout = layout
        self._options = options
        self._ladder = ladder
        # What a track records: a track made with another ladder is re-transcoded at start-up.
        self.ladder_spec = ladder_spec(ladder)
        self._cpu_limiter = cpu_limiter
        self._events = events
        self._on_settled = on_settled

    def kind(self) -> JobKind:
        return JobKind(TRANSCODE, self._run, self._failed, self._progressed, subject="track")

    def _progressed(self, job: Job, fraction: float) -> None:
        track_id = job.subject_id
        self._events.publish(track_topic(track_id), TrackProgress(track_id, fraction))

    async def _run(self, job: Job, progress: JobProgress) -> Commit:
        track = await self._store.tracks.get(job.subject_id)
        if track is None:
            raise JobFailed("the track no longer exists")
        # A new generation, or the one an interrupted attempt was writing: it starts clean.
        generation = track.building_generation or track.generation + 1
        hls = self._layout.hls_dir(track.id, generation)

        def clear() -> None:
            shutil.rmtree(hls, ignore_errors=True)
            # The folder of generations, inside the track's: a transcode makes only its own.
            self._layout.hls_root(track.id).mkdir(exist_ok=True)

        await trio.to_thread.run_sync(clear)
        renditions, _ = usable_ladder(self._ladder, self._options)
        await self._store.tracks.start_generation(track.id, generation, ladder_spec(renditions))
        try:
            result = await transcode(
                self._layout.original(track),
                hls,
                ladder=renditions,
                options=self._options,
                limiter=self._cpu_limiter,
                on_progress=progress.report,
            )
        except TranscodeError as error:
            raise JobFailed(error.reason, error.detail) from error
        for notice in result.notices:
            log.warning("track %s: %s", track.id, notice)
        measured = _measurements(result)
        # For storage quotas: what the track's folder holds besides its original.
        stored = await trio.to_thread.run_sync(self._layout.stored_bytes, track)

        ready = TrackReady(track.id, measured.duration_s)

        async def commit(tx: Transaction) -> None:
            await tx.tracks.mark_ready(track.id, generation, self.ladder_spec, measured)
            await tx.tracks.set_stored_bytes(track.id, stored)
            tx.on_commit(lambda: self._on_settled(track.id))
            tx.on_commit(lambda: self._events.publish(track_topic(track.id), ready))

        return commit

    async def _failed(self, job: Job, reason: str, tx: Transaction) -> None:
        track_id = job.subject_id
        # Anyone who can see the track reads this: whatever a raise site let through, no path
        # or address of the server goes out.
        reason = public_reason(reason)
        track = await tx.tracks.get(track_id)
        await tx.tracks.mark_failed(track_id, reason)
        tx.on_commit(lambda: self._on_settled(track_id))
        if track is not None and track.status == READY:
            log.warning("track %s keeps generation %d: %s", track_id, track.generation, reason)
            return
        failed = TrackFailed(track_id, reason)
        tx.on_commit(lambda: self._events.publish(track_topic(track_id), failed))


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
            "delay_samples": r.priming_samples,
            "padding_samples": r.padding_samples,
        }
        for r in result.renditions
    ]
    return Measurements(
        duration_s=result.duration_s,
        loudness_lufs=result.loudness.integrated_lufs,
        true_peak_dbtp=result.loudness.true_peak_dbtp,
        gain_db=result.loudness.gain_db,
        renditions=renditions,
        normalised=result.loudness.applied,
    )
