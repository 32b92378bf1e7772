"""Encoders for one rendition each: an FFmpeg child, or libsndfile's LAME in a worker thread.

Both read house-format blocks (as `scaled` makes them) from their own bounded channel, cut
what they code into segments with the rendition's RenditionStream in a worker thread (the
frame splitting and the segment packing are pure Python over every byte), and hand the
segments to `emit`; an encoder that fails raises TranscodeError with its reason. Only a
successful encoder's last, shorter segment is emitted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import soundfile as sf
import trio

from veza.audio import ffmpeg as ffmpeg_args
from veza.audio.ladder import Rendition
from veza.audio.lame import LameEncoder
from veza.audio.pcm import CHANNELS, SAMPLE_RATE, f32le_view
from veza.audio.resample import Block
from veza.audio.segmenter import Segment
from veza.audio.stream import RenditionStream
from veza.transcode.children import StderrTail, child_process
from veza.transcode.result import TranscodeError

Emit = Callable[[list[Segment]], Awaitable[None]]
# One read takes whatever the (1 MiB) pipe holds, so a busy moment costs one thread hop.
_READ_BYTES = 1 << 20


async def run_ffmpeg_encoder(
    ffmpeg: str,
    rendition: Rendition,
    pcm: trio.MemoryReceiveChannel[Block],
    stream: RenditionStream,
    emit: Emit,
    limiter: trio.CapacityLimiter,
) -> None:
    argv = ffmpeg_args.encoder_argv(ffmpeg, rendition, sample_rate=SAMPLE_RATE, channels=CHANNELS)
    tail = StderrTail()
    fed_everything = False

    async def feed(stdin: trio.abc.SendStream) -> None:
        nonlocal fed_everything
        async with pcm:
            try:
                async for block in pcm:
                    await stdin.send_all(f32le_view(block))  # no copy, no conversion
                await stdin.aclose()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return  # the child died; its exit status and stderr say why
        fed_everything = True

    async with child_process(argv, stdin=True) as proc:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        async with trio.open_nursery() as nursery:
            nursery.start_soon(feed, proc.stdin)
            nursery.start_soon(tail.collect, proc.stderr)
            while chunk := await proc.stdout.receive_some(_READ_BYTES):
                segments = await trio.to_thread.run_sync(stream.feed, chunk, limiter=limiter)
                if segments:
                    await emit(segments)
        code = await proc.wait()
    if code != 0:
        raise TranscodeError(
            f"{rendition.name}: ffmpeg encoder failed (exit status {code}): {tail.text()}"
        )
    if not fed_everything:
        raise TranscodeError(f"{rendition.name}: ffmpeg encoder stopped reading its input")
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
