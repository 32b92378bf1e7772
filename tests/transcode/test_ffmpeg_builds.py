"""Two FFmpeg builds: Debian's (with ffprobe) and imageio-ffmpeg's static one (without): the
lookup order, probing by FFmpeg alone, and a transcode through each."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import trio

from tests.support import require_tool, unavailable
from tests.support.process import run_veza
from tests.support.transcode import run_transcode
from veza.audio.decode import SourceInfo
from veza.transcode import TranscodeError, TranscodeOptions
from veza.transcode.options import bundled_ffmpeg, find_ffmpeg, find_ffprobe
from veza.transcode.source import ffmpeg_probe


def imageio_ffmpeg() -> str:
    found = bundled_ffmpeg()
    if found is None:
        unavailable("imageio-ffmpeg is not installed (pip install 'veza[ffmpeg]')")
    return found


def alone(ffmpeg: str, folder: Path) -> str:
    """`ffmpeg` linked into a folder of its own: no ffprobe beside it."""
    folder.mkdir()
    (folder / "ffmpeg").symlink_to(ffmpeg)
    return str(folder / "ffmpeg")


def make(tmp_path: Path, name: str, *encode: str) -> Path:
    ffmpeg = require_tool("ffmpeg")
    target = tmp_path / name
    subprocess.run(
        [ffmpeg, "-v", "error", "-f", "lavfi", "-i", "sine=440:d=2", *encode, str(target)],
        check=True,
    )
    return target


SOURCES = {
    "surround.m4a": ("-ac", "6", "-c:a", "aac"),
    "mono.mp3": ("-c:a", "libmp3lame"),
    "opus.ogg": ("-ar", "48000", "-c:a", "libopus"),
    "three.wav": ("-ac", "3",),
    "quad.flac": ("-ac", "4", "-ar", "96000"),
}  # fmt: skip


async def probed(source: Path, ffmpeg: str) -> SourceInfo:
    options = TranscodeOptions(ffmpeg=ffmpeg)
    return await ffmpeg_probe(source, options, trio.CapacityLimiter(1), [])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SOURCES))
async def test_ffmpeg_alone_reads_what_ffprobe_reads(tmp_path: Path, name: str) -> None:
    source = make(tmp_path, name, *SOURCES[name])
    # The ffmpeg beside the ffprobe on PATH (under VEZA_TEST_FFMPEG=imageio, the ffmpeg first
    # on PATH is imageio-ffmpeg's, with none beside it).
    debian = str(Path(require_tool("ffprobe")).with_name("ffmpeg"))
    assert find_ffprobe(debian) is not None
    by_ffprobe = await probed(source, debian)
    for ffmpeg in (alone(debian, tmp_path / "debian"), imageio_ffmpeg()):
        by_ffmpeg = await probed(source, ffmpeg)
        assert (by_ffmpeg.sample_rate, by_ffmpeg.channels, by_ffmpeg.format) == (
            by_ffprobe.sample_rate,
            by_ffprobe.channels,
            by_ffprobe.format,
        )
        assert by_ffmpeg.duration_s == pytest.approx(by_ffprobe.duration_s, abs=0.05)
        assert by_ffmpeg.decoder == "ffmpeg"


async def test_ffmpeg_alone_refuses_a_guess_and_a_file_without_audio(tmp_path: Path) -> None:
    ffmpeg = imageio_ffmpeg()
    fake = tmp_path / "program.mp3"  # a few bytes that may look like one MPEG frame header
    fake.write_bytes(b"\x7fELF" + bytes(range(256)) * 8)
    with pytest.raises(TranscodeError) as refused:
        await probed(fake, ffmpeg)
    assert refused.value.reason
    still = tmp_path / "still.mkv"
    await trio.run_process(
        [
            require_tool("ffmpeg"), "-v", "error", "-f", "lavfi", "-i", "color=size=16x16:d=1",
            "-c:v", "ffv1", str(still),
        ],
    )  # fmt: skip
    with pytest.raises(TranscodeError, match="no audio stream"):
        await probed(still, ffmpeg)


@pytest.mark.slow
async def test_imageio_ffmpeg_transcodes_what_libsndfile_cannot_read(tmp_path: Path) -> None:
    source = make(tmp_path, "in.m4a", "-c:a", "aac", "-b:a", "160k")
    result = await run_transcode(source, tmp_path / "out", ffmpeg=imageio_ffmpeg())
    assert result.decoder == "ffmpeg" and result.duration_s == pytest.approx(2.0, abs=0.05)
    assert [r.name for r in result.renditions] == ["aac_256", "aac_128", "aac_64"]
    assert all(r.segment_count == 1 for r in result.renditions)
    # Debian's FFmpeg reads what imageio-ffmpeg's wrote, to the end.
    done = await trio.run_process(
        [
            require_tool("ffmpeg"), "-v", "error", "-i",
            str(tmp_path / "out" / "aac_128" / "index.m3u8"), "-f", "s16le", "-ac", "1", "-",
        ],
        capture_stdout=True,
    )  # fmt: skip
    decoded = done.stdout
    assert len(decoded) / 2 / 44100 == pytest.approx(2.0, abs=0.1)


def test_ffmpeg_is_the_configured_one_then_the_path_one_then_imageio_ffmpeg(
    tmp_path: Path,
) -> None:
    bundled = imageio_ffmpeg()
    assert find_ffmpeg("none") is None
    assert find_ffmpeg("/opt/ffmpeg/bin/ffmpeg") == "/opt/ffmpeg/bin/ffmpeg"
    empty = tmp_path / "empty"
    empty.mkdir()
    path = os.environ["PATH"]
    try:
        os.environ["PATH"] = str(empty)
        assert find_ffmpeg() == bundled
        os.environ["PATH"] = str(Path(alone(bundled, tmp_path / "own")).parent)
        assert find_ffmpeg() == str(tmp_path / "own" / "ffmpeg")
    finally:
        os.environ["PATH"] = path


@pytest.mark.slow
def test_check_names_imageio_ffmpeg_its_version_and_encoders(tmp_path: Path) -> None:
    imageio_ffmpeg()
    empty = tmp_path / "empty"
    empty.mkdir()
    check = run_veza("check", "--data-dir", str(tmp_path / "data"), PATH=str(empty))
    assert check.returncode == 0, check.stderr
    lines = dict(line.split(": ", 1) for line in check.stdout.splitlines() if ": " in line)
    assert "(imageio-ffmpeg; ladder aac:256,aac:128,aac:64)" in lines["ffmpeg"]
    assert lines["ffmpeg version"][0].isalnum() and lines["ffmpeg version"] != "unknown"
    assert lines["ffmpeg encoders"] == "aac libmp3lame libopus flac"
