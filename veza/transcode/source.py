"""The source side: probing a file, and decoding it once per pass into house-format blocks."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import soundfile as sf
import trio

from veza.audio import ffmpeg as ffmpeg_args
from veza.audio.decode import PcmAssembler, SoundfileDecoder, SourceInfo
from veza.audio.decode import soundfile_info as read_soundfile_info
from veza.audio.pcm import SAMPLE_RATE, Normaliser, scaled
from veza.audio.resample import Block
from veza.audio.sniff import HEAD_BYTES, audio_container
from veza.transcode.children import StderrTail, child_process
from veza.transcode.options import TranscodeOptions, find_ffprobe
from veza.transcode.result import NO_AUDIO_STREAM, TOO_SLOW, TranscodeError

# libsndfile's frame count is exact for these containers, so a shortfall means a cut file.
# (MP3 without a Xing frame only gets an estimate.)
_EXACT_LENGTH_FORMATS = ("WAV", "WAVEX", "W64", "RF64", "AIFF", "FLAC", "CAF", "OGG")
_MAX_CHANNELS = 64
_FFMPEG_READ_BYTES = 1 << 20
# What FFmpeg says of a damaged file, in words for people (the rest: "cannot be read").
_KNOWN_DAMAGE = {
    "moov atom not found": "its index is missing; it was probably cut short",
}

_T = TypeVar("_T")


def _soundfile_probe(path: Path) -> SourceInfo | str:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise TranscodeError(f"cannot read the source: {exc.strerror or exc}") from None
    if size == 0:
        raise TranscodeError.empty()
    try:
        info = read_soundfile_info(path)
    except (sf.LibsndfileError, RuntimeError) as exc:
        return str(exc)
    if info.sample_rate <= 0 or not 0 < info.channels <= _MAX_CHANNELS:
        return f"invalid header ({info.sample_rate} Hz, {info.channels} channels)"
    if info.damage is not None:
        raise TranscodeError.damaged("it is truncated", info.damage)
    if info.frames is None:
        # A FLAC whose STREAMINFO has no sample count: libsndfile reports SF_COUNT_MAX
        # frames, then fails (`psf_fseek() failed`) before the end; FFmpeg decodes it whole.
        return "it does not know the length of the audio (a stream header without one)"
    return info


def _read_head(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(HEAD_BYTES)


async def _unreadable(source: Path, reasons: list[str], stderr: str = "") -> TranscodeError:
    """Neither reader could open `source`: damaged, when it announces a format of ours; else
    not audio at all."""
    detail = "; ".join(reasons)
    try:
        container = audio_container(await trio.to_thread.run_sync(_read_head, source))
    except OSError as exc:
        return TranscodeError(f"cannot read the source: {exc.strerror or exc}")
    if container is None:
        return TranscodeError.not_audio(detail)
    for message, cause in _KNOWN_DAMAGE.items():
        if message in stderr:
            return TranscodeError.damaged(cause, detail)
    return TranscodeError.damaged(f"it looks like {container} file but cannot be read", detail)


async def probe(
    source: Path, options: TranscodeOptions, limiter: trio.CapacityLimiter
) -> SourceInfo:
    """How to decode `source`: libsndfile first, then FFmpeg (its ffprobe, or FFmpeg itself)
    when available. The one check of a file, before it is taken into the library and before it
    is transcoded; each reader gets `options.probe_timeout_s`."""
    with trio.move_on_after(options.probe_timeout_s) as scope:
        # A thread cannot be stopped: past the deadline it is left to finish on its own.
        found = await trio.to_thread.run_sync(
            _soundfile_probe, source, limiter=limiter, abandon_on_cancel=True
        )
    if scope.cancelled_caught:
        raise TranscodeError.not_audio(
            f"libsndfile took longer than {options.probe_timeout_s:g} s", TOO_SLOW
        )
    if isinstance(found, SourceInfo):
        return found
    return await ffmpeg_probe(source, options, limiter, [f"libsndfile: {found}"])


class LibsndfileFailed(TranscodeError):
    """libsndfile opened the source but failed to decode it: FFmpeg may still (see
    `ffmpeg_probe`), so the track is not failed before it has tried."""


async def ffmpeg_probe(
    source: Path,
    options: TranscodeOptions,
    limiter: trio.CapacityLimiter,
    reasons: list[str],
    *,
    promised: SourceInfo | None = None,
) -> SourceInfo:
    """How FFmpeg would decode `source`, which libsndfile could not (`reasons` says why).

    `promised`: what libsndfile read in the header of a file it then failed to decode; its
    frame count, exact in those containers, is kept to tell a truncated file."""
    if options.ffmpeg is None:
        reasons.append("FFmpeg is not available for other formats")
        raise await _unreadable(source, reasons)
    # Cached per process; the first lookup stats files, so not on the event loop.
    ffprobe = await trio.to_thread.run_sync(find_ffprobe, options.ffmpeg)
    # Without an ffprobe beside it (imageio-ffmpeg's build), FFmpeg describes the input itself.
    name = "ffprobe" if ffprobe is not None else "ffmpeg"
    if ffprobe is not None:
        argv = ffmpeg_args.probe_argv(ffprobe, source)
    else:
        argv = ffmpeg_args.ffmpeg_probe_argv(options.ffmpeg, source)
    with trio.move_on_after(options.probe_timeout_s) as scope:
        done = await trio.run_process(argv, check=False, capture_stdout=True, capture_stderr=True)
    if scope.cancelled_caught:
        raise TranscodeError.not_audio(
            f"probing took longer than {options.probe_timeout_s:g} s", TOO_SLOW
        )
    described = done.stderr.decode("utf-8", "replace")
    errors = done.stderr if ffprobe is not None else ffmpeg_args.ffmpeg_probe_errors(described)
    # FFmpeg alone always exits 1 (no output named): what it described tells success.
    opened = done.returncode == 0 if ffprobe is not None else "] Input #0, " in described
    if not opened:
        stderr = ffmpeg_args.stderr_tail(errors)
        reasons.append(f"{name}: {stderr}")
        raise await _unreadable(source, reasons, stderr)
    try:
        if ffprobe is not None:
            info = ffmpeg_args.parse_probe(done.stdout.decode("utf-8", "replace"))
        else:
            info = ffmpeg_args.parse_ffmpeg_probe(described)
    except ffmpeg_args.NoAudioStream as exc:
        raise TranscodeError.not_audio(f"{name}: {exc}", NO_AUDIO_STREAM) from None
    except ffmpeg_args.ProbeError as exc:
        reasons.append(f"{name}: {exc}")
        raise await _unreadable(source, reasons) from None
    if info.channels > _MAX_CHANNELS:
        raise TranscodeError.not_audio(
            f"{info.channels} channels", f"too many channels ({info.channels}, at most 64)"
        )
    container = promised.format.split("/")[0] if promised is not None else ""
    if promised is not None and promised.frames and container in _EXACT_LENGTH_FORMATS:
        info = dataclasses.replace(info, frames=promised.frames, duration_s=promised.duration_s)
    return info


class SourceReader:
    """Decodes the source once into house-format blocks sent down a channel (one pass).

    Each block is decoded, converted and resampled in one worker-thread call (and, in that
    call, handed to `keep`, which keeps the audio for the encoding pass), so the event loop
    only moves finished blocks; blocks come out as `scaled` makes them.
    """

    def __init__(
        self,
        source: Path,
        info: SourceInfo,
        options: TranscodeOptions,
        limiter: trio.CapacityLimiter,
        *,
        keep: Callable[[Block], None] | None = None,
    ) -> None:
        self.source, self.info, self.options, self.limiter = source, info, options, limiter
        self._keep = keep
        self.source_frames = 0  # per channel, at the source rate, once the pass is done

    async def run(self, send: trio.MemorySendChannel[Block]) -> None:
        async with send:
            if self.info.decoder == "soundfile":
                await self._from_soundfile(send)
            else:
                await self._from_ffmpeg(send)
        if self.source_frames == 0:
            raise TranscodeError.damaged(
                "no audio could be decoded from it", "no audio samples could be decoded"
            )

    async def _in_thread(self, work: Callable[[], _T]) -> _T:
        return await trio.to_thread.run_sync(work, limiter=self.limiter)

    def _house(self, block: Block) -> Block:
        """A block as sent (and kept): blocking, called in the decoding worker thread."""
        out = scaled(block)
        if self._keep is not None and len(out):
            self._keep(out)
        return out

    async def _from_soundfile(self, send: trio.MemorySendChannel[Block]) -> None:
        def open_source() -> tuple[SoundfileDecoder, Normaliser]:
            decoder = SoundfileDecoder(self.source)
            return decoder, Normaliser(self.info.sample_rate, self.info.channels)

        try:
            decoder, normaliser = await self._in_thread(open_source)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise LibsndfileFailed.damaged("it cannot be opened", f"libsndfile: {exc}") from None

        def next_block() -> tuple[Block, bool]:
            """The next block, ready to send; at the end, the resampler's tail and the file
            closed in the same call."""
            block = decoder.read()
            if block is None:
                tail = normaliser.process(np.zeros((0, self.info.channels), np.float32), last=True)
                decoder.close()
                return self._house(tail), True
            return self._house(normaliser.process(block)), False

        try:
            done = False
            while not done:
                try:
                    block, done = await self._in_thread(next_block)
                except (sf.LibsndfileError, RuntimeError) as exc:
                    at = decoder.frames_read / self.info.sample_rate
                    raise _undecodable(
                        at, f"decoding failed at {at:.2f} s (libsndfile: {exc})", LibsndfileFailed
                    ) from None
                if len(block):
                    await send.send(block)
        finally:
            if not decoder.closed:  # an error or a cancellation: close it all the same
                with trio.CancelScope(shield=True):
                    await self._in_thread(decoder.close)
        self.source_frames = decoder.frames_read
        expected = self.info.frames or 0
        container = self.info.format.split("/")[0]
        if container in _EXACT_LENGTH_FORMATS and decoder.frames_read < expected:
            raise TranscodeError.damaged(
                "it is truncated",
                f"its header promises {expected} frames "
                f"({expected / self.info.sample_rate:.2f} s) but only {decoder.frames_read} "
                f"could be decoded",
            )

    async def _from_ffmpeg(self, send: trio.MemorySendChannel[Block]) -> None:
        assert self.options.ffmpeg is not None
        argv = ffmpeg_args.decoder_argv(self.options.ffmpeg, self.source, self.info)
        assembler = PcmAssembler(self.info.channels)
        normaliser = await self._in_thread(
            lambda: Normaliser(self.info.sample_rate, self.info.channels)
        )
        tail = StderrTail()
        chunks: list[bytes | bytearray] = []
        pending = 0

        async def flush(last: bool) -> None:
            raw = chunks.copy()
            chunks.clear()

            def convert() -> Block:  # joining the chunks is a copy too: off the loop
                return self._house(normaliser.process(assembler.feed(b"".join(raw)), last=last))

            block = await self._in_thread(convert)
            if len(block):
                await send.send(block)

        async with child_process(argv) as proc, trio.open_nursery() as nursery:
            assert proc.stdout is not None and proc.stderr is not None
            nursery.start_soon(tail.collect, proc.stderr)
            while chunk := await proc.stdout.receive_some(_FFMPEG_READ_BYTES):
                chunks.append(chunk)
                pending += len(chunk)
                self.source_frames += len(chunk)
                if pending >= _FFMPEG_READ_BYTES:
                    await flush(last=False)
                    pending = 0
            code = await proc.wait()
        if code != 0:
            at = self.source_frames / (4 * self.info.channels * self.info.sample_rate)
            raise _undecodable(
                at, f"ffmpeg could not decode the source (exit status {code}): {tail.text()}"
            )
        await flush(last=True)
        if assembler.leftover:
            raise TranscodeError("ffmpeg's decoded output ended in the middle of a sample frame")
        self.source_frames //= 4 * self.info.channels
        promised = self.info.frames  # only ever set from a header that counts exactly
        if promised is not None and self.source_frames < promised:
            raise TranscodeError.damaged(
                "it is truncated",
                f"its header promises {promised} frames but FFmpeg decoded only "
                f"{self.source_frames}",
            )


def _undecodable(
    at_s: float, detail: str, kind: type[TranscodeError] = TranscodeError
) -> TranscodeError:
    """Decoding stopped `at_s` seconds in (to within a block)."""
    where = f" past {at_s:.1f} s" if at_s >= 0.05 else ""
    return kind.damaged(f"it cannot be decoded{where}", detail)


def expected_frames(info: SourceInfo) -> int | None:
    """Frames at the house rate the source should decode to, when the probe knows."""
    if info.frames is not None:
        return round(info.frames * SAMPLE_RATE / info.sample_rate)
    if info.duration_s is not None:
        return round(info.duration_s * SAMPLE_RATE)
    return None
