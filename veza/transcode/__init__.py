"""Transcoding a track into HLS renditions: the async orchestration around veza.audio.

    result = await transcode(source, out_dir, limiter=limiter, on_progress=callback)

Output under out_dir: master.m3u8, {rendition}/index.m3u8, {rendition}/{n}.mp3|.aac,
waveform.json.
"""

from veza.audio.ladder import DEFAULT_LADDER, Rendition
from veza.transcode.command import run_transcode_command
from veza.transcode.options import TranscodeOptions, find_ffmpeg
from veza.transcode.pipeline import transcode, usable_ladder
from veza.transcode.result import (
    Fault,
    Loudness,
    RenditionResult,
    TranscodeError,
    TranscodeResult,
)
from veza.transcode.source import probe

__all__ = [
    "DEFAULT_LADDER",
    "Fault",
    "Loudness",
    "Rendition",
    "RenditionResult",
    "TranscodeError",
    "TranscodeOptions",
    "TranscodeResult",
    "find_ffmpeg",
    "probe",
    "run_transcode_command",
    "transcode",
    "usable_ladder",
]
