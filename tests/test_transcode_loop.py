"""A transcode leaves the Trio event loop free: blocking and whole-block work runs in threads."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf
import trio

from tests.audio.signals import music
from tests.support import require_tool
from veza.transcode import TranscodeOptions, transcode
from veza.transcode.options import find_ffprobe

# Generous: a loaded 2-core machine has been seen to hold a free loop back for up to 0.19 s
# (the process not scheduled). Each block put back on the loop in the test below costs more:
# one LAME encode of a block blocked it for 0.4-1.0 s there.
MAX_LOOP_STALL_S = 0.25
_TICK_S = 0.005


@pytest.mark.parametrize("encoders", ["ffmpeg", "libsndfile"])
async def test_a_transcode_never_blocks_the_event_loop(tmp_path: Path, encoders: str) -> None:
    """A task that wakes every 5 ms is never held back long while a track is transcoded.

    The source is 40 s of mono at 2 kHz: libsndfile decodes 65536 frames per block, which here
    is 33 s of audio, 1.4 million frames once resampled to 44.1 kHz stereo. So every per-block
    step (the libsndfile LAME encode above all) that went back onto the event loop would stall
    it far past the bound, where a 44.1 kHz source would stall it 1.5 s of audio at a time.
    """
    ffmpeg = require_tool("ffmpeg") if encoders == "ffmpeg" else None
    source = tmp_path / "low-rate.flac"
    sf.write(source, music(40.0, 2000, channels=1), 2000)
    longest = 0.0

    async def watch(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        nonlocal longest
        last = trio.current_time()
        task_status.started()
        while True:
            await trio.sleep(_TICK_S)
            now = trio.current_time()
            longest = max(longest, now - last - _TICK_S)
            last = now

    async with trio.open_nursery() as nursery:
        await nursery.start(watch)
        result = await transcode(
            source,
            tmp_path / "out",
            options=TranscodeOptions(ffmpeg=ffmpeg),
            limiter=trio.CapacityLimiter(2),
        )
        nursery.cancel_scope.cancel()
    assert result.duration_s == pytest.approx(40.0, abs=0.01)
    assert all(r.segment_count == 7 for r in result.renditions)
    assert longest < MAX_LOOP_STALL_S, f"the event loop was blocked for {longest:.3f} s"


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
