"""Transcode settings, including the FFmpeg-availability decision callers log and tests force."""

from __future__ import annotations

import functools
import shutil
from dataclasses import dataclass, field
from pathlib import Path


def find_ffmpeg() -> str | None:
    """The ffmpeg on PATH, or None (MP3 then falls back to libsndfile and AAC is skipped)."""
    return shutil.which("ffmpeg")


@functools.cache
def find_ffprobe(ffmpeg: str) -> str | None:
    """ffprobe next to `ffmpeg`, else on PATH.

    Looked up once per process for each `ffmpeg` (the answer is cached, a missing ffprobe
    too); the first lookup touches the filesystem, so async callers run it in a worker thread.
    """
    sibling = Path(ffmpeg).with_name("ffprobe")
    return str(sibling) if sibling.exists() else shutil.which("ffprobe")


@dataclass(frozen=True)
class TranscodeOptions:
    target_lufs: float = -14.0
    true_peak_ceiling_dbtp: float = -1.0
    apply_gain: bool = True
    segment_seconds: float = 6.0
    waveform_points: int = 1000
    # None forces the no-FFmpeg path; the default looks ffmpeg up on PATH once, at creation.
    ffmpeg: str | None = field(default_factory=find_ffmpeg)
    probe_timeout_s: float = 30.0
