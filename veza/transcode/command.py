"""`veza transcode FILE OUT_DIR`: one transcode from the command line, with a progress bar."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TextIO

import trio

from veza.transcode.options import TranscodeOptions
from veza.transcode.pipeline import transcode
from veza.transcode.result import TranscodeError, TranscodeResult

_BAR_WIDTH = 30


def _bar(fraction: float) -> str:
    filled = round(fraction * _BAR_WIDTH)
    return f"\r[{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {fraction * 100:5.1f}%"


def summary(result: TranscodeResult, out_dir: Path, elapsed: float) -> str:
    loud = result.loudness
    lufs = "silent" if loud.integrated_lufs is None else f"{loud.integrated_lufs:.1f} LUFS"
    peak = "-inf" if loud.true_peak_dbtp is None else f"{loud.true_peak_dbtp:.1f}"
    lines = [
        f"{out_dir / 'master.m3u8'}",
        f"  duration   {result.duration_s:.2f} s from {result.source_format} "
        f"({result.source_sample_rate} Hz, {result.source_channels} ch, via {result.decoder})",
        f"  loudness   {lufs}, true peak {peak} dBTP, gain {loud.gain_db:+.1f} dB",
        f"  time       {elapsed:.1f} s ({result.duration_s / max(elapsed, 1e-9):.0f}x real time)",
    ]
    for r in result.renditions:
        lines.append(
            f"  {r.name:<10} {r.codec} {r.bitrate_kbps}k: {r.segment_count} segments, "
            f"peak {r.peak_bandwidth / 1000:.0f} kbit/s, "
            f"average {r.average_bandwidth / 1000:.0f} kbit/s"
        )
    lines.extend(f"  notice     {notice}" for notice in result.notices)
    return "\n".join(lines)


def run_transcode_command(
    source: Path,
    out_dir: Path,
    *,
    options: TranscodeOptions | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run one transcode; 0 on success, 1 (with the reason on stderr) on failure."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    options = options or TranscodeOptions()
    if options.ffmpeg is None:
        print("ffmpeg not found: MP3 through libsndfile, no AAC rendition", file=err)

    async def show(fraction: float) -> None:
        err.write(_bar(fraction))
        err.flush()

    async def main() -> TranscodeResult:
        limiter = trio.CapacityLimiter(os.cpu_count() or 2)
        return await transcode(
            Path(source), Path(out_dir), options=options, limiter=limiter, on_progress=show
        )

    started = time.monotonic()
    try:
        result = trio.run(main)
    except TranscodeError as exc:
        err.write(f"\nerror: {exc}\n")
        return 1
    except KeyboardInterrupt:
        err.write("\ninterrupted\n")
        return 130
    err.write("\n")
    print(summary(result, Path(out_dir), time.monotonic() - started), file=out)
    return 0
