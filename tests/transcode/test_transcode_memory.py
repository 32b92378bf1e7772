"""Memory stays flat whatever the track's length: a 10-minute source costs the pipeline no more
than a 1-minute one (measured in a child process, as `veza transcode` runs it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.support import require_tool
from tests.support.process import clean_environment

RATE = 44100

# Runs the standard `veza transcode` entry point, then reports the process's own peak resident
# memory (VmHWM belongs to this process alone; ru_maxrss would include its parent's at fork).
_MEASURE = """
import sys
from pathlib import Path
from veza.transcode import run_transcode_command
code = run_transcode_command(Path(sys.argv[1]), Path(sys.argv[2]))
status = Path("/proc/self/status").read_text()
peak_kib = next(int(l.split()[1]) for l in status.splitlines() if l.startswith("VmHWM:"))
print(peak_kib)
sys.exit(code)
"""


def write_long_flac(path: Path, seconds: int) -> Path:
    """Written a block at a time, so making the source does not need it all in memory."""
    rng = np.random.default_rng(11)
    block = RATE * 10
    with sf.SoundFile(path, "w", RATE, 2, format="FLAC", subtype="PCM_16") as out:
        for start in range(0, seconds * RATE, block):
            t = (start + np.arange(block)) / RATE
            tone = 0.2 * np.sin(2 * np.pi * (220 + 40 * np.sin(t / 7)) * t)
            noise = rng.normal(0, 0.02, (block, 2))
            out.write((np.stack([tone, tone * 0.8], axis=1) + noise).astype(np.float32))
    return path


def peak_memory_kib(source: Path, out_dir: Path) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(source), str(out_dir)],
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_ten_minute_track_needs_no_more_memory_than_a_one_minute_one(
    tmp_path: Path,
) -> None:
    require_tool("ffmpeg")
    short = peak_memory_kib(write_long_flac(tmp_path / "1min.flac", 60), tmp_path / "short")
    long = peak_memory_kib(write_long_flac(tmp_path / "10min.flac", 600), tmp_path / "long")
    assert (tmp_path / "long" / "master.m3u8").exists()
    # Flat: the same blocks, channels and buffers whatever the length; 32 MiB covers
    # allocator noise. A pipeline holding the track would need about 200 MiB more.
    print(f"peak resident memory: 1 min {short // 1024} MiB, 10 min {long // 1024} MiB")
    assert long < short + 32 * 1024, (short, long)
