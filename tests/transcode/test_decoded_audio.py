"""The analysis pass's decoded audio, kept for the encoders: read back exactly, coded by FFmpeg
into the bytes of the scaled samples, and never left behind (a hung encoder is killed)."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import trio

from tests.support import require_tool
from tests.support.process import live_children
from tests.support.signals import music
from tests.support.transcode import run_transcode as run
from veza.audio import ffmpeg as ffmpeg_args
from veza.audio.ladder import Rendition
from veza.audio.pcm import CHANNELS, SAMPLE_RATE, scaled
from veza.transcode import TranscodeError
from veza.transcode.spill import DecodedAudio

GAIN = float(10 ** (-4.3 / 20))
AAC_128 = Rendition("aac_128", "aac", 128)


def kept(directory: Path, signal: np.ndarray, block: int = 10_000) -> DecodedAudio:
    """`signal` written as the analysis pass writes it, a block at a time."""
    directory.mkdir(exist_ok=True)
    decoded = DecodedAudio(directory)
    decoded.create()
    for start in range(0, len(signal), block):
        decoded.write(scaled(signal[start : start + block]))
    decoded.finish_writing()
    return decoded


def test_the_decoded_audio_reads_back_as_written_times_the_gain(tmp_path: Path) -> None:
    signal = music(4.0)  # 176,400 frames: more than two of the reader's blocks
    decoded = kept(tmp_path, signal)
    assert decoded.frames == len(signal)
    # hidden and suffixed: what `remove_temporary_files` clears after a crash
    assert decoded.path.name.startswith(".") and decoded.path.name.endswith(".tmp")
    reader = decoded.reader(GAIN)
    blocks = []
    while (block := reader.read()) is not None:
        blocks.append(block)
    reader.close()
    assert len(blocks) == 3
    assert np.array_equal(np.concatenate(blocks), scaled(signal, GAIN))
    decoded.remove()
    decoded.remove()  # harmless twice
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.parametrize("rendition", [AAC_128, Rendition("mp3_128", "mp3", 128)])
def test_ffmpeg_codes_the_kept_audio_into_the_bytes_of_the_scaled_samples(
    tmp_path: Path, rendition: Rendition
) -> None:
    """The gain is applied by the encoder child (`-af volume`), bit for bit what scaling the
    samples in float32 gives: the renditions are made of the samples that were measured."""
    ffmpeg = require_tool("ffmpeg")
    signal = music(5.0)
    plain = kept(tmp_path / "plain", signal)
    with_gain = kept(tmp_path / "scaled", scaled(signal, GAIN))

    def coded(decoded: DecodedAudio, gain: float) -> bytes:
        argv = ffmpeg_args.encoder_argv(
            ffmpeg, rendition, decoded.path, sample_rate=SAMPLE_RATE, channels=CHANNELS, gain=gain
        )
        return subprocess.run(argv, capture_output=True, check=True).stdout

    by_filter = coded(plain, GAIN)
    assert len(by_filter) > 50_000
    assert by_filter == coded(with_gain, 1.0)
    assert by_filter != coded(plain, 1.0)


def _stand_in(tmp_path: Path, text: str) -> str:
    """An executable `ffmpeg` of our making (an external program, not our code)."""
    script = tmp_path / "ffmpeg"
    script.write_text(text)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


async def test_cancelling_kills_an_encoder_that_never_ends(tmp_path: Path) -> None:
    """The encoders' output is read in threads, which a cancellation cannot stop: it kills
    the child instead, so the reads end, and nothing is left running or on disk."""
    source = tmp_path / "in.wav"
    sf.write(source, music(2.0), SAMPLE_RATE)
    started, finished = tmp_path / "started", tmp_path / "finished"
    os.mkfifo(started)
    # Says it started, then neither writes nor exits for 30 s; leaves `finished` if not killed.
    ffmpeg = _stand_in(
        tmp_path,
        f"#!{sys.executable}\n"
        "import time\n"
        f"with open({str(started)!r}, 'w') as fifo:\n"
        "    fifo.write('started')\n"
        "time.sleep(30)\n"
        f"open({str(finished)!r}, 'w').close()\n",
    )
    out = tmp_path / "out"

    async def cancel_once_the_encoder_runs(scope: trio.CancelScope) -> None:
        try:
            await trio.to_thread.run_sync(started.read_bytes, abandon_on_cancel=True)
        finally:
            with contextlib.suppress(OSError):  # the read abandoned if nothing ever wrote
                os.close(os.open(started, os.O_WRONLY | os.O_NONBLOCK))
        scope.cancel()

    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(cancel_once_the_encoder_runs, scope)
            await run(source, out, ladder=[AAC_128], ffmpeg=ffmpeg)
    assert scope.cancelled_caught
    assert live_children() == []
    assert not finished.exists()  # killed, not waited for
    assert sorted(p.name for p in out.iterdir()) == ["aac_128", "waveform.json"]
    assert not list(out.rglob(".*"))  # the decoded audio is gone


async def test_a_failed_transcode_leaves_no_decoded_audio(tmp_path: Path) -> None:
    source = tmp_path / "in.wav"
    sf.write(source, music(2.0), SAMPLE_RATE)
    ffmpeg = _stand_in(tmp_path, "#!/bin/sh\necho 'Conversion failed!' >&2\nexit 3\n")
    with pytest.raises(TranscodeError, match="Conversion failed"):
        await run(source, tmp_path / "out", ladder=[AAC_128], ffmpeg=ffmpeg)
    assert not list((tmp_path / "out").rglob(".*"))
