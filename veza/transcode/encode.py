"""Encoders for one rendition each: an FFmpeg child, or libsndfile's LAME in a worker thread.

An FFmpeg child reads the track's decoded audio itself (veza.transcode.spill); LAME reads
house-format blocks (as `scaled` makes them) from its own bounded channel. Both cut what they
code into segments with the rendition's RenditionStream in a worker thread (the frame
splitting and the segment packing are pure Python over every byte), and hand the segments to
`emit`; an encoder that fails raises TranscodeError with its reason. Only a successful
encoder's last, shorter segment is emitted.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import soundfile as sf
import trio

from veza.audio import ffmpeg as ffmpeg_args
from veza.audio.ladder import Rendition
from veza.audio.lame import LameEncoder
from veza.audio.pcm import CHANNELS, SAMPLE_RATE
from veza.audio.resample import Block
from veza.audio.segmenter import Segment
from veza.audio.stream import RenditionStream
from veza.transcode.children import OutputPipe, StderrTail, child_process, read_in_thread
from veza.transcode.result import TranscodeError

Emit = Callable[[list[Segment]], Awaitable[None]]
_READ_BYTES = 1 << 20


async def run_ffmpeg_encoder(
    ffmpeg: str,
    rendition: Rendition,
    pcm: Path,
    gain: float,
    stream: RenditionStream,
    emit: Emit,
    limiter: trio.CapacityLimiter,
) -> None:
    """Encode the float32 PCM file `pcm`, scaled by `gain`, into `stream`'s segments.

    The child's output is read and split into frames and segments in a worker thread of its
    own, with blocking reads: FFmpeg writes 32 KiB at a time, and each write would otherwise
    cost a pass of the event loop and a thread hop; the loop now only sees finished segments.
    """
    argv = ffmpeg_args.encoder_argv(
        ffmpeg, rendition, pcm, sample_rate=SAMPLE_RATE, channels=CHANNELS, gain=gain
    )
    tail = StderrTail()

    with OutputPipe() as pipe:

        def pump() -> None:
            buffer = bytearray(_READ_BYTES)
            view = memoryview(buffer)
            while size := os.readv(pipe.read_end, [buffer]):
                segments = stream.feed(view[:size])
                if segments:
                    trio.from_thread.run(emit, segments)

        async with child_process(argv, stdout=pipe.write_end) as proc:
            pipe.child_has_it()
            assert proc.stderr is not None
            async with trio.open_nursery() as nursery:
                nursery.start_soon(tail.collect, proc.stderr)
                await read_in_thread(proc, pump)
            code = await proc.wait()
    if code != 0:
        raise TranscodeError(
            f"{rendition.name}: ffmpeg encoder failed (exit status {code}): {tail.text()}"
        )
    await emit(await trio.to_thread.run_sync(stream.finish, limiter=limiter))


async def run_lame_encoder(
    rendition: Rendition,
    pcm: trio.MemoryReceiveChannel[Block],
    stream: RenditionStream,
    emit: Emit,
    limiter: trio.CapacityLimiter,
) -> None:
    try:
        encoder = await trio.to_thread.run_sync(
            LameEncoder, rendition.bitrate_kbps, SAMPLE_RATE, limiter=limiter
        )
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise TranscodeError(f"{rendition.name}: libsndfile MP3 encoder failed: {exc}") from None

    def encode(block: Block) -> list[Segment]:
        return stream.feed(encoder.encode(block))

    def finish() -> list[Segment]:
        return stream.feed(encoder.finish()) + stream.finish()

    try:
        async with pcm:
            async for block in pcm:
                segments = await trio.to_thread.run_sync(encode, block, limiter=limiter)
                if segments:
                    await emit(segments)
        segments = await trio.to_thread.run_sync(finish, limiter=limiter)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise TranscodeError(f"{rendition.name}: libsndfile MP3 encoder failed: {exc}") from None
    finally:
        if not encoder.closed:  # given up (an error, a cancellation): LAME closes off the loop
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(encoder.close, limiter=limiter)
    await emit(segments)
