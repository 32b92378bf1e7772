"""Transcode settings, including the FFmpeg-availability decision callers log and tests force."""

from __future__ import annotations

import functools
import shutil
from dataclasses import dataclass, field
from pathlib import Path

# `ffmpeg_path = "none"`: transcode without FFmpeg (libsndfile's LAME, MP3 only).
NO_FFMPEG = "none"


def find_ffmpeg(configured: str = "") -> str | None:
    """The FFmpeg transcodes run: `configured` (the `ffmpeg_path` setting) when given, else the
    ffmpeg on PATH, else the one shipped by the `imageio-ffmpeg` package (the `[ffmpeg]` extra,
    and inside the one-file build), else None (MP3 then falls back to libsndfile, AAC is
    skipped)."""
    if configured == NO_FFMPEG:
        return None
    if configured:
        return configured
    return shutil.which("ffmpeg") or bundled_ffmpeg()


@functools.cache
def bundled_ffmpeg() -> str | None:
    """imageio-ffmpeg's static FFmpeg, when that package and its binary are installed."""
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    try:
        # It honours IMAGEIO_FFMPEG_EXE, and raises when its binary is missing.
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError:
        return None


@functools.cache
def find_ffprobe(ffmpeg: str) -> str | None:
    """The ffprobe of the same FFmpeg build: next to `ffmpeg`, or None (imageio-ffmpeg ships
    none; probing then asks FFmpeg itself, veza/audio/ffmpeg.py).

    Looked up once per process for each `ffmpeg` (the answer is cached, a missing ffprobe
    too); the first lookup touches the filesystem, so async callers run it in a worker thread.
    """
    sibling = Path(ffmpeg).with_name("ffprobe")
    return str(sibling) if sibling.exists() else None


@dataclass(frozen=True)
class TranscodeOptions:
    target_lufs: float = -14.0
    true_peak_ceiling_dbtp: float = -1.0
    apply_gain: bool = True
    segment_seconds: float = 6.0
    waveform_points: int = 1000
    # None forces the no-FFmpeg path; the default looks FFmpeg up once, at creation.
    ffmpeg: str | None = field(default_factory=find_ffmpeg)
    probe_timeout_s: float = 30.0
