"""Encoders for one rendition each: an FFmpeg child, or libsndfile's LAME in a worker thread.

Both read house-format blocks from their own bounded channel and hand raw coded bytes to
`sink` as they appear; an encoder that fails raises TranscodeError with its reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import soundfile as sf
import trio

from veza.audio import ffmpeg as ffmpeg_args
from veza.audio.ladder import Rendition
from veza.audio.lame import LameEncoder
from veza.audio.pcm import CHANNELS, SAMPLE_RATE, to_f32le
from veza.audio.resample import Block
from veza.transcode.children import StderrTail, child_process
from veza.transcode.result import TranscodeError

Sink = Callable[[bytes], Awaitable[None]]


async def run_ffmpeg_encoder(
    ffmpeg: str, rendition: Rendition, pcm: trio.MemoryReceiveChannel[Block], sink: Sink
) -> None:
    argv = ffmpeg_args.encoder_argv(ffmpeg, rendition, sample_rate=SAMPLE_RATE, channels=CHANNELS)
    tail = StderrTail()
    fed_everything = False

    async def feed(stdin: trio.abc.SendStream) -> None:
        nonlocal fed_everything
        async with pcm:
            try:
                async for block in pcm:
                    await stdin.send_all(to_f32le(block))
                await stdin.aclose()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return  # the child died; its exit status and stderr say why
        fed_everything = True

    async with child_process(argv, stdin=True) as proc:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        async with trio.open_nursery() as nursery:
            nursery.start_soon(feed, proc.stdin)
            nursery.start_soon(tail.collect, proc.stderr)
            async for chunk in proc.stdout:
                await sink(bytes(chunk))
        code = await proc.wait()
    if code != 0:
        raise TranscodeError(
            f"{rendition.name}: ffmpeg encoder failed (exit status {code}): {tail.text()}"
        )
    if not fed_everything:
        raise TranscodeError(f"{rendition.name}: ffmpeg encoder stopped reading its input")


async def run_lame_encoder(
    rendition: Rendition,
    pcm: trio.MemoryReceiveChannel[Block],
    sink: Sink,
    limiter: trio.CapacityLimiter,
) -> None:
    try:
        encoder = await trio.to_thread.run_sync(
            LameEncoder, rendition.bitrate_kbps, SAMPLE_RATE, limiter=limiter
        )
        async with pcm:
            async for block in pcm:
                data = await trio.to_thread.run_sync(encoder.encode, block, limiter=limiter)
                if data:
                    await sink(data)
        data = await trio.to_thread.run_sync(encoder.finish, limiter=limiter)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise TranscodeError(f"{rendition.name}: libsndfile MP3 encoder failed: {exc}") from None
    if data:
        await sink(data)
