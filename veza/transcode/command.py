"""`veza transcode FILE OUT_DIR`: one transcode from the command line, with a progress bar on a
terminal."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import TextIO

import trio

from veza.audio.ladder import MASTERS
from veza.files import make_dirs
from veza.transcode.options import TranscodeOptions
from veza.transcode.pipeline import transcode
from veza.transcode.result import TranscodeError, TranscodeResult

_BAR_WIDTH = 30


def progress_bar(fraction: float) -> str:
    filled = round(fraction * _BAR_WIDTH)
    return f"\r[{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {fraction * 100:5.1f}%"


def summary(result: TranscodeResult, out_dir: Path, elapsed: float) -> str:
    loud = result.loudness
    lufs = "silent" if loud.integrated_lufs is None else f"{loud.integrated_lufs:.1f} LUFS"
    peak = "-inf" if loud.true_peak_dbtp is None else f"{loud.true_peak_dbtp:.1f}"
    codecs = {r.codec for r in result.renditions}
    masters = [str(out_dir / name) for codec, name in MASTERS.items() if codec in codecs]
    lines = [
        *masters,
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


class OutputNotEmpty(Exception):
    """OUT_DIR holds files already, and replacing them was not asked for (or not safe)."""


def clear_output(source: Path, out_dir: Path, *, force: bool) -> None:
    """Make sure the transcode writes into an empty folder: an earlier run's segments and
    playlists would otherwise be mixed with the new ones. With `force`, what the folder holds
    is removed first (never the source itself, nor a folder holding it)."""
    if not out_dir.is_dir() or not any(out_dir.iterdir()):
        return
    if not force:
        raise OutputNotEmpty(f"{out_dir} is not empty (add --force to replace what it holds)")
    if source.resolve().is_relative_to(out_dir.resolve()):
        raise OutputNotEmpty(f"{out_dir} holds the source file itself: choose another folder")
    for entry in out_dir.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def run_transcode_command(
    source: Path,
    out_dir: Path,
    *,
    force: bool = False,
    options: TranscodeOptions | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run one transcode into an empty (or, with `force`, emptied) folder; 0 on success, 1
    (with the reason on stderr) on failure. The progress bar is drawn on stderr when it is a
    terminal, never into a file or a pipe."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    source, out_dir = Path(source), Path(out_dir)
    try:
        clear_output(source, out_dir, force=force)
        make_dirs(out_dir.parent)  # the transcode makes OUT_DIR itself, not its parents
    except OutputNotEmpty as exc:
        err.write(f"error: {exc}\n")
        return 1
    except OSError as exc:
        err.write(f"error: cannot prepare {out_dir}: {exc.strerror or exc}\n")
        return 1
    options = options or TranscodeOptions()
    if options.ffmpeg is None:
        print("ffmpeg not found: MP3 through libsndfile, no AAC rendition", file=err)
    bar = err.isatty()

    async def show(fraction: float) -> None:
        err.write(progress_bar(fraction))
        err.flush()

    async def main() -> TranscodeResult:
        limiter = trio.CapacityLimiter(os.cpu_count() or 2)
        return await transcode(
            source, out_dir, options=options, limiter=limiter, on_progress=show if bar else None
        )

    started = time.monotonic()
    end_bar = "\n" if bar else ""
    try:
        result = trio.run(main)
    except TranscodeError as exc:
        err.write(f"{end_bar}error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        err.write(f"{end_bar}interrupted\n")
        return 130
    err.write(end_bar)
    print(summary(result, out_dir, time.monotonic() - started), file=out)
    return 0
