"""Transcoding a track into HLS renditions: the async orchestration around veza.audio.

    result = await transcode(source, out_dir, limiter=limiter, on_progress=callback)

Output under out_dir: {rendition}/index.m3u8 and {rendition}/{n}.aac|.mp3 for each rendition,
master.m3u8 listing the AAC renditions and master-mp3.m3u8 the MP3 ones (each only when the
ladder has some), waveform.json. Players can start on a master and its media playlists while
the transcode goes on: media playlists only grow, and a master never changes once written.
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
