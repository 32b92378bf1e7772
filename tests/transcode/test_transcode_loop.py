"""A transcode leaves the Trio event loop free: blocking and whole-block work runs in threads."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import soundfile as sf
import trio

from tests.support import require_tool
from tests.support.signals import music
from veza.transcode import TranscodeOptions, transcode
from veza.transcode.options import find_ffprobe

# How long a task waking every 5 ms may be held back. Generous: a loaded 2-core machine has
# been seen to hold back a free loop for up to 0.19 s (the process not scheduled), and a
# blocking call (a file closed or synced on the loop) only shows here.
MAX_STALL_S = 0.25
# CPU time of the loop's thread in one scheduler pass (from one wait for I/O to the next):
# what other tasks wait for, however busy the machine. A pass of this transcode takes 2-4 ms;
# one whole block put back on the loop took 0.15 s (the analysis) to 0.5 s (a LAME encode).
MAX_PASS_CPU_S = 0.1
_TICK_S = 0.005


class _LoopPasses(trio.abc.Instrument):
    """The longest scheduler pass, in CPU time of the thread running the loop."""

    def __init__(self) -> None:
        self.longest_cpu_s = 0.0
        self._started: float | None = None

    def after_io_wait(self, timeout: float) -> None:
        self._started = time.thread_time()

    def before_io_wait(self, timeout: float) -> None:
        if self._started is not None:
            self.longest_cpu_s = max(self.longest_cpu_s, time.thread_time() - self._started)


@pytest.mark.slow
@pytest.mark.parametrize("encoders", ["ffmpeg", "libsndfile"])
async def test_a_transcode_never_blocks_the_event_loop(tmp_path: Path, encoders: str) -> None:
    """A task waking every 5 ms is never held back long while a track is transcoded, and no
    scheduler pass does much work on the loop's thread.

    The source is 40 s of mono at 2 kHz: libsndfile decodes 65536 frames per block, here 33 s
    of audio, 1.4 million frames once resampled to 44.1 kHz stereo. So a per-block step (the
    LAME encode, the loudness analysis) put back on the event loop stalls it far past the
    bounds, where with a 44.1 kHz source it would stall it for 1.5 s of audio at a time.
    """
    ffmpeg = require_tool("ffmpeg") if encoders == "ffmpeg" else None
    source = tmp_path / "low-rate.flac"
    sf.write(source, music(40.0, 2000, channels=1), 2000)
    passes = _LoopPasses()
    longest_stall = 0.0

    async def watch(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        nonlocal longest_stall
        last = trio.current_time()
        task_status.started()
        while True:
            await trio.sleep(_TICK_S)
            now = trio.current_time()
            longest_stall = max(longest_stall, now - last - _TICK_S)
            last = now

    async with trio.open_nursery() as nursery:
        await nursery.start(watch)
        trio.lowlevel.add_instrument(passes)
        try:
            result = await transcode(
                source,
                tmp_path / "out",
                options=TranscodeOptions(ffmpeg=ffmpeg),
                limiter=trio.CapacityLimiter(2),
            )
        finally:
            trio.lowlevel.remove_instrument(passes)
        nursery.cancel_scope.cancel()
    assert result.duration_s == pytest.approx(40.0, abs=0.01)
    assert all(r.segment_count == 7 for r in result.renditions)
    assert passes.longest_cpu_s < MAX_PASS_CPU_S, (
        f"one pass of the event loop took {passes.longest_cpu_s:.3f} s of CPU"
    )
    assert longest_stall < MAX_STALL_S, f"the event loop was blocked for {longest_stall:.3f} s"


def test_ffprobe_is_looked_up_once_per_ffmpeg(tmp_path: Path) -> None:
    ffmpeg, ffprobe = tmp_path / "ffmpeg", tmp_path / "ffprobe"
    ffprobe.touch()
    before = find_ffprobe.cache_info()
    assert find_ffprobe(str(ffmpeg)) == str(ffprobe)
    ffprobe.unlink()
    # No second look at the filesystem: the answer found the first time, from the cache.
    assert find_ffprobe(str(ffmpeg)) == str(ffprobe)
    after = find_ffprobe.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)


@pytest.mark.slow
async def test_probing_with_ffprobe_reuses_the_lookup(tmp_path: Path) -> None:
    ffmpeg = require_tool("ffmpeg")
    m4a = tmp_path / "in.m4a"  # libsndfile cannot read it: the probe falls back to ffprobe
    await trio.run_process(
        [ffmpeg, "-v", "error", "-f", "lavfi", "-i", "sine=440:d=1", "-c:a", "aac", str(m4a)]
    )
    options = TranscodeOptions(ffmpeg=ffmpeg)
    limiter = trio.CapacityLimiter(2)
    await transcode(m4a, tmp_path / "one", options=options, limiter=limiter)
    looked_up = find_ffprobe.cache_info().misses
    result = await transcode(m4a, tmp_path / "two", options=options, limiter=limiter)
    assert result.decoder == "ffmpeg"
    assert find_ffprobe.cache_info().misses == looked_up
