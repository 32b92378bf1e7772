"""transcode(): probe, one decoding and analysis pass, then every encoder at once on what it
decoded (kept in a temporary file, veza.transcode.spill)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from veza.audio import hls
from veza.audio.decode import SourceInfo
from veza.audio.ladder import DEFAULT_LADDER, MASTERS, Rendition
from veza.audio.loudness import LoudnessMeter, track_gain
from veza.audio.pcm import SAMPLE_RATE
from veza.audio.resample import Block
from veza.audio.segmenter import Segment
from veza.audio.stream import RenditionStream
from veza.audio.waveform import WaveformBuilder
from veza.transcode.encode import run_ffmpeg_encoder, run_lame_encoder
from veza.transcode.options import TranscodeOptions
from veza.transcode.result import Loudness, RenditionResult, TranscodeError, TranscodeResult
from veza.transcode.source import (
    LibsndfileFailed,
    SourceReader,
    expected_frames,
    ffmpeg_probe,
    probe,
)
from veza.transcode.spill import DecodedAudio
from veza.transcode.writer import Master, SegmentWriter

log = logging.getLogger(__name__)

Progress = Callable[[float], Awaitable[None]]
ANALYSIS_SHARE = 0.15  # of the progress bar; the first pass is several times cheaper
_PCM_BUFFER = 4  # blocks (about 1.5 s each) queued per encoder
_SEGMENT_BUFFER = 8


class _Progress:
    def __init__(self, callback: Progress | None, total_frames: int | None) -> None:
        self._callback = callback
        self._total = total_frames
        self._last = -1.0

    async def report(self, start: float, share: float, frames: int) -> None:
        if self._callback is None or not self._total:
            return
        value = min(1.0, start + share * min(1.0, frames / self._total))
        if value - self._last >= 0.01:
            self._last = value
            await self._callback(value)

    async def done(self) -> None:
        if self._callback is not None:
            await self._callback(1.0)


def usable_ladder(
    ladder: Sequence[Rendition], options: TranscodeOptions
) -> tuple[tuple[Rendition, ...], list[str]]:
    """The renditions this machine can encode, with a notice for each one it cannot.

    Without FFmpeg there is no AAC encoder: AAC rungs are skipped when the ladder has MP3 ones
    (encoded with libsndfile's LAME), and otherwise each becomes an MP3 rung of its bit rate,
    so that a machine without FFmpeg still makes renditions to play."""
    if options.ffmpeg is not None:
        return tuple(ladder), []
    kept = tuple(r for r in ladder if r.codec == "mp3")
    others = [r for r in ladder if r.codec != "mp3"]
    if kept:
        notices = [
            f"{r.name} skipped: FFmpeg is not installed, so there is no {r.codec.upper()} "
            f"encoder (MP3 uses libsndfile's LAME)"
            for r in others
        ]
        return kept, notices
    stand_ins: dict[str, Rendition] = {}
    for r in others:
        stand_ins.setdefault(
            f"mp3_{r.bitrate_kbps}", Rendition(f"mp3_{r.bitrate_kbps}", "mp3", r.bitrate_kbps)
        )
    notices = [
        f"{r.name} encoded as mp3_{r.bitrate_kbps}: FFmpeg is not installed, so there is no "
        f"{r.codec.upper()} encoder (MP3 uses libsndfile's LAME)"
        for r in others
    ]
    return tuple(stand_ins.values()), notices


async def transcode(
    source: Path,
    out_dir: Path,
    *,
    ladder: Sequence[Rendition] = DEFAULT_LADDER,
    options: TranscodeOptions | None = None,
    limiter: trio.CapacityLimiter,
    on_progress: Progress | None = None,
) -> TranscodeResult:
    """Transcode `source` into HLS renditions under `out_dir` (see module docs for the layout).

    Raises TranscodeError with a readable reason when the source or an encoder fails.
    """
    if options is None:  # its default looks ffmpeg up on PATH: not on the event loop
        options = await trio.to_thread.run_sync(TranscodeOptions)
    source, out_dir = Path(source), Path(out_dir)
    renditions, notices = usable_ladder(ladder, options)
    for notice in notices:
        log.warning("%s", notice)
    if not renditions:
        raise TranscodeError("no rendition of the ladder can be encoded on this machine")
    info = await probe(source, options, limiter)
    progress = _Progress(on_progress, expected_frames(info))
    writer = SegmentWriter(out_dir, renditions)
    await writer.prepare()
    decoded = DecodedAudio(out_dir)
    try:
        await trio.to_thread.run_sync(decoded.create)
        analysis, info = await _analyse_any_way(source, info, options, limiter, progress, decoded)
        await writer.write_json("waveform.json", analysis.waveform)
        masters = master_playlists(renditions, options, analysis.frames / SAMPLE_RATE)
        streams = await _encode(
            decoded, options, limiter, progress, renditions, writer, masters, analysis
        )
        await writer.finish()
    except BaseExceptionGroup as group:
        raise single_error(group) from None
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(decoded.remove)
    await progress.done()
    results = []
    for rendition in renditions:
        stream = streams[rendition.name]
        variant = writer.variant(rendition.name)
        sizes, samples = writer.track_sizes(rendition.name)
        results.append(
            RenditionResult(
                rendition.name,
                rendition.codec,
                rendition.bitrate_kbps,
                rendition.extension,
                rendition.hls_codec,
                len(sizes),
                variant.peak_bandwidth,
                variant.average_bandwidth,
                stream.samples,
                stream.priming_samples,
                stream.samples - stream.priming_samples - analysis.frames,
                tuple(samples),
            )
        )
    return TranscodeResult(
        duration_s=analysis.frames / SAMPLE_RATE,
        sample_rate=SAMPLE_RATE,
        frames=analysis.frames,
        source_sample_rate=info.sample_rate,
        source_channels=info.channels,
        source_frames=analysis.source_frames,
        source_format=info.format,
        decoder=info.decoder,
        loudness=analysis.loudness,
        renditions=tuple(results),
        notices=tuple(notices),
    )


def master_playlists(
    renditions: Sequence[Rendition], options: TranscodeOptions, duration_s: float
) -> list[Master]:
    """One master playlist per codec family in the ladder, AAC first, with the bandwidths
    declared from each encoder's nominal rate and measured margin (`Rendition.peak_ratio`):
    known before any segment exists, so a master is right from its first write."""
    target = hls.target_duration(options.segment_seconds)
    masters: dict[str, list[hls.Variant]] = {}
    for rendition in renditions:
        peak, average = hls.declared_bandwidths(
            1000 * rendition.bitrate_kbps,
            rendition.peak_ratio,
            target=target,
            duration_s=duration_s,
        )
        variant = hls.Variant(rendition.name, rendition.hls_codec, peak, average)
        masters.setdefault(rendition.master, []).append(variant)
    order = list(MASTERS.values())
    return [
        Master(name, tuple(variants))
        for name, variants in sorted(masters.items(), key=lambda item: order.index(item[0]))
    ]


# What a task sees when the task at the other end of its channel died of the real error.
_SECONDARY = (trio.BrokenResourceError, trio.ClosedResourceError)


def single_error(group: BaseExceptionGroup) -> BaseException:
    """The TranscodeError out of nested nurseries, unwrapped, when nothing but its side effects
    came with it; anything else (a bug, a cancellation) stays the group it was."""
    errors, rest = group.split(TranscodeError)
    if errors is None:
        return group
    if rest is not None and any(not isinstance(e, _SECONDARY) for e in _leaves(rest)):
        return group
    return _leaves(errors)[0]


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return out


@dataclass(frozen=True)
class _Analysis:
    frames: int  # at the house rate
    source_frames: int
    loudness: Loudness
    waveform: dict[str, Any]  # waveform.json, scaled by the gain

    @property
    def gain(self) -> float:
        return float(10.0 ** (self.loudness.gain_db / 20.0))


async def _analyse_any_way(
    source: Path,
    info: SourceInfo,
    options: TranscodeOptions,
    limiter: trio.CapacityLimiter,
    progress: _Progress,
    decoded: DecodedAudio,
) -> tuple[_Analysis, SourceInfo]:
    """The analysis pass, and how the source decodes: a file libsndfile opened but failed to
    decode is given to FFmpeg (when there is one) before the track is failed."""
    try:
        return await _analyse(source, info, options, limiter, progress, decoded), info
    except BaseExceptionGroup as group:
        failed = single_error(group)
        if not isinstance(failed, LibsndfileFailed) or options.ffmpeg is None:
            raise
    log.warning("%s: %s; decoding it with FFmpeg instead", source, failed.detail)
    try:
        info = await ffmpeg_probe(
            source, options, limiter, [f"libsndfile: {failed.detail}"], promised=info
        )
    except TranscodeError:
        raise failed from None  # FFmpeg cannot read it either: libsndfile's reason stands
    await trio.to_thread.run_sync(decoded.restart)
    return await _analyse(source, info, options, limiter, progress, decoded), info


async def _analyse(
    source: Path,
    info: SourceInfo,
    options: TranscodeOptions,
    limiter: trio.CapacityLimiter,
    progress: _Progress,
    decoded: DecodedAudio,
) -> _Analysis:
    reader = SourceReader(source, info, options, limiter, keep=decoded.write)
    meter = LoudnessMeter(SAMPLE_RATE)
    waveform = WaveformBuilder(
        SAMPLE_RATE, expected_frames=expected_frames(info), points=options.waveform_points
    )

    def measure_block(block: Block) -> None:
        meter.feed(block)  # gated loudness and true peak
        waveform.feed(block)

    async def measure(receive: trio.MemoryReceiveChannel[Block]) -> None:
        async with receive:
            async for block in receive:
                await trio.to_thread.run_sync(measure_block, block, limiter=limiter)

    # Decoding in one worker thread, measuring in another: both cores busy while the encoders
    # wait for the gain. (The meter once took two threads of its own; since its filter and its
    # true peak got cheaper, measuring a block costs about what decoding it does, and a third
    # thread only added a thread hop per block.)
    send, receive = trio.open_memory_channel[Block](2)
    measure_send, measure_receive = trio.open_memory_channel[Block](2)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader.run, send)
        nursery.start_soon(measure, measure_receive)
        frames = 0
        async with receive, measure_send:
            async for block in receive:
                await measure_send.send(block)
                frames += len(block)
                await progress.report(0.0, ANALYSIS_SHARE, frames)

    def conclude() -> _Analysis:
        """The meter's flush, the gated loudness over the whole track and the waveform's
        rows, and the decoded audio's file closed: one worker-thread call."""
        decoded.finish_writing()
        meter.finish()
        integrated, peak = meter.integrated(), meter.true_peak_dbtp()
        suggested = track_gain(
            integrated,
            peak,
            target_lufs=options.target_lufs,
            ceiling_dbtp=options.true_peak_ceiling_dbtp,
        )
        gain_db = suggested if options.apply_gain else 0.0
        return _Analysis(
            meter.frames,
            reader.source_frames,
            Loudness(integrated, peak, gain_db, suggested, applied=options.apply_gain),
            waveform.to_json(10.0 ** (gain_db / 20.0)),
        )

    return await trio.to_thread.run_sync(conclude, limiter=limiter)


async def _encode(
    decoded: DecodedAudio,
    options: TranscodeOptions,
    limiter: trio.CapacityLimiter,
    progress: _Progress,
    renditions: tuple[Rendition, ...],
    writer: SegmentWriter,
    masters: list[Master],
    analysis: _Analysis,
) -> dict[str, RenditionStream]:
    """Every encoder at once on the decoded audio, scaled by the analysis's gain: FFmpeg
    children read its file themselves; LAME encoders are fed its blocks, read back once."""
    streams = {
        r.name: RenditionStream(
            r.codec, target_s=options.segment_seconds, priming_samples=r.priming_samples
        )
        for r in renditions
    }
    coded = dict.fromkeys(streams, 0)  # samples of the track in each rendition's segments
    segments_send, segments_receive = trio.open_memory_channel[tuple[str, Segment]](_SEGMENT_BUFFER)

    async def encode(
        rendition: Rendition,
        pcm: trio.MemoryReceiveChannel[Block] | None,
        out: trio.MemorySendChannel[tuple[str, Segment]],
    ) -> None:
        stream = streams[rendition.name]

        async def emit(segments: list[Segment]) -> None:
            for segment in segments:
                await out.send((rendition.name, segment))
            coded[rendition.name] = stream.samples - stream.priming_samples
            await progress.report(ANALYSIS_SHARE, 1.0 - ANALYSIS_SHARE, min(coded.values()))

        async with out:
            if pcm is None:
                assert options.ffmpeg is not None
                await run_ffmpeg_encoder(
                    options.ffmpeg,
                    rendition,
                    decoded.path,
                    analysis.gain,
                    stream,
                    emit,
                    limiter,
                )
            else:
                await run_lame_encoder(rendition, pcm, stream, emit, limiter)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer.run, segments_receive, masters)
        outputs = []
        async with segments_send:
            for rendition in renditions:
                pcm_receive = None
                if options.ffmpeg is None:
                    pcm_send, pcm_receive = trio.open_memory_channel[Block](_PCM_BUFFER)
                    outputs.append(pcm_send)
                nursery.start_soon(encode, rendition, pcm_receive, segments_send.clone())
        if outputs:
            blocks_send, blocks_receive = trio.open_memory_channel[Block](2)
            nursery.start_soon(_read_back, decoded, analysis.gain, blocks_send, limiter)
            await _fan_out(blocks_receive, outputs)
    return streams


async def _read_back(
    decoded: DecodedAudio,
    gain: float,
    send: trio.MemorySendChannel[Block],
    limiter: trio.CapacityLimiter,
) -> None:
    """The decoded audio again, scaled by `gain`, a block at a time (each read in a thread)."""
    reader = await trio.to_thread.run_sync(decoded.reader, gain, limiter=limiter)
    try:
        async with send:
            while True:
                block = await trio.to_thread.run_sync(reader.read, limiter=limiter)
                if block is None:
                    break
                await send.send(block)
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(reader.close, limiter=limiter)


async def _fan_out(
    blocks: trio.MemoryReceiveChannel[Block],
    outputs: list[trio.MemorySendChannel[Block]],
) -> None:
    """Every block to every LAME encoder, with no work on it here: the slowest encoder sets
    the pace."""
    live = list(outputs)
    try:
        async with blocks:
            async for block in blocks:
                for channel in list(live):
                    try:
                        await channel.send(block)
                    except trio.BrokenResourceError:
                        live.remove(channel)  # that encoder failed and will say why
    finally:
        for channel in outputs:
            await channel.aclose()
