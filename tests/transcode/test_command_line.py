"""`veza transcode FILE OUT_DIR` as a person runs it: a child process, on a terminal or not."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

import pytest
import soundfile as sf

from tests.support import require_tool
from tests.support.process import clean_environment, run_veza, veza_command
from tests.support.signals import music

RATE = 44100


def write_source(path: Path, seconds: float = 3.0) -> Path:
    sf.write(path, music(seconds), RATE, subtype="PCM_16")
    return path


def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def decoded_frames(playlist: Path) -> int:
    done = subprocess.run(
        [require_tool("ffmpeg"), "-v", "error", "-i", str(playlist), "-f", "f32le", "-"],
        capture_output=True,
        check=True,
    )
    return len(done.stdout) // 8


@pytest.mark.slow
def test_a_folder_with_files_is_refused_unless_forced(tmp_path: Path) -> None:
    require_tool("ffmpeg")
    source = write_source(tmp_path / "song.wav")
    out = tmp_path / "out"
    done = run_veza("transcode", str(source), str(out))
    assert done.returncode == 0, done.stderr
    assert f"{out / 'master.m3u8'}\n" in done.stdout and "master-mp3" not in done.stdout
    assert "aac_256" in done.stdout and "LUFS" in done.stdout
    fresh = files_in(out)
    assert abs(decoded_frames(out / "master.m3u8") - 3 * RATE) < 2 * 1024

    # what an earlier run (another ladder, a longer track) or a person left there
    (out / "aac_128" / "99.aac").write_bytes(b"stale segment")
    (out / "mp3_320").mkdir()
    (out / "mp3_320" / "index.m3u8").write_text("#EXTM3U\n")
    (out / "notes.txt").write_text("mine")
    refused = run_veza("transcode", str(source), str(out))
    assert refused.returncode == 1
    assert "is not empty" in refused.stderr and "--force" in refused.stderr
    assert (out / "notes.txt").read_text() == "mine"  # nothing touched
    assert (out / "aac_128" / "99.aac").exists()

    forced = run_veza("transcode", "--force", str(source), str(out))
    assert forced.returncode == 0, forced.stderr
    assert files_in(out) == fresh  # exactly what a run into a new folder writes
    assert abs(decoded_frames(out / "master.m3u8") - 3 * RATE) < 2 * 1024


@pytest.mark.slow
def test_force_never_removes_the_source(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    source = write_source(out / "song.wav")
    done = run_veza("transcode", "--force", str(source), str(out))
    assert done.returncode == 1
    assert "holds the source file" in done.stderr
    assert source.exists() and files_in(out) == ["song.wav"]


@pytest.mark.slow
def test_an_unreadable_file_is_an_error_with_its_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"nope")
    done = run_veza("transcode", str(bad), str(tmp_path / "out"))
    assert done.returncode == 1
    assert "error: not an audio file we can read" in done.stderr


@pytest.mark.slow
def test_the_progress_bar_is_drawn_only_on_a_terminal(tmp_path: Path) -> None:
    require_tool("ffmpeg")
    source = write_source(tmp_path / "song.wav", 6.0)

    piped = run_veza("transcode", str(source), str(tmp_path / "new" / "piped"))
    assert piped.returncode == 0, piped.stderr  # OUT_DIR and its parents made
    assert "\r" not in piped.stderr and "%" not in piped.stderr

    # stderr on a terminal (a pseudo-terminal), stdout still a pipe
    terminal, child_end = pty.openpty()
    process = subprocess.Popen(
        veza_command("transcode", str(source), str(tmp_path / "terminal")),
        env=clean_environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=child_end,
    )
    os.close(child_end)
    drawn = b""
    while True:
        try:
            chunk = os.read(terminal, 4096)
        except OSError:  # EIO: the child has closed its end
            break
        if not chunk:
            break
        drawn += chunk
    os.close(terminal)
    stdout, _ = process.communicate(timeout=60)
    assert process.returncode == 0, drawn.decode(errors="replace")
    text = drawn.decode()
    assert "\r[" in text and "100.0%" in text
    assert "%" not in stdout.decode()  # the summary alone on stdout
