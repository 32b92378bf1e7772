"""What players read while and after a track is transcoded: timestamps FFmpeg reads without a
warning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import trio

from tests.support import require_tool
from tests.support.signals import music
from veza.audio.ladder import Rendition
from veza.transcode import TranscodeOptions, TranscodeResult, transcode

RATE = 44100
SAMPLES_PER_FRAME = {"mp3": 1152, "aac": 1024}
AAC_128 = Rendition("aac_128", "aac", 128)
MP3_128 = Rendition("mp3_128", "mp3", 128)


def write(path: Path, signal: np.ndarray) -> Path:
    sf.write(path, signal, RATE, subtype="FLOAT")
    return path


async def run(
    source: Path, out: Path, ladder: tuple[Rendition, ...], **options: object
) -> TranscodeResult:
    return await transcode(
        source,
        out,
        ladder=ladder,
        options=TranscodeOptions(**options),  # type: ignore[arg-type]
        limiter=trio.CapacityLimiter(2),
    )


async def test_ffmpeg_reads_every_rendition_without_a_timestamp_warning(tmp_path: Path) -> None:
    ffmpeg = require_tool("ffmpeg")
    source = write(tmp_path / "in.wav", music(60.0))
    ladder = (Rendition("mp3_320", "mp3", 320), MP3_128, AAC_128)
    runs = [
        (tmp_path / "ffmpeg", await run(source, tmp_path / "ffmpeg", ladder)),
        # libsndfile's LAME, the encoder used without FFmpeg
        (tmp_path / "lame", await run(source, tmp_path / "lame", (MP3_128,), ffmpeg=None)),
    ]
    for out, result in runs:
        for rendition in result.renditions:
            playlist = str(out / rendition.name / "index.m3u8")
            done = await trio.run_process(
                [
                    ffmpeg,
                    "-hide_banner",
                    "-nostdin",
                    "-v",
                    "warning",
                    "-i",
                    playlist,
                    "-f",
                    "null",
                    "-",
                ],
                capture_stdout=True,
                capture_stderr=True,
            )
            warnings = done.stderr.decode()
            assert warnings == "", f"{out.name}/{rendition.name}: {warnings}"
