"""The README works as written: its API walk-through runs in bash against a real server, and
its first-admin command creates an admin."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import trio

from tests.support import require_tool
from tests.support.process import clean_environment
from tests.support.server import RunningServer
from tests.support.tracks import write_music

README = Path(__file__).resolve().parent.parent / "README.md"


def shell_blocks(section: str) -> list[str]:
    text = README.read_text()
    start = text.index(f"## {section}\n")
    end = text.find("\n## ", start + 1)
    return re.findall(r"```sh\n(.*?)```", text[start : end if end > 0 else None], re.S)


@pytest.mark.slow
async def test_the_api_walk_through_runs_as_written(server: RunningServer, tmp_path: Path) -> None:
    for tool in ("bash", "curl", "jq", "ffmpeg", "ffprobe"):
        require_tool(tool)
    (walk_through,) = shell_blocks("Trying the API")
    wav = write_music(tmp_path / "song.wav", 4)
    audio, rate = sf.read(wav)
    sf.write(tmp_path / "song.flac", audio, rate)
    result = await trio.run_process(
        ["bash", "-euo", "pipefail", "-c", walk_through],
        cwd=tmp_path,
        env={"VEZA": server.url, "PATH": "/usr/local/bin:/usr/bin:/bin"},
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    output = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode() + output
    assert '"username":"ann"' in output.replace(" ", "")
    assert '"status": "ready"' in output
    numbers = [line for line in output.splitlines() if re.fullmatch(r"[0-9.]+", line)]
    assert abs(float(numbers[-1]) - 4.0) < 0.1  # ffprobe read the stream
    assert '"position": 0' in output  # the track went into the playlist
    exported = (tmp_path / "road-trip.m3u8").read_text()
    assert exported.startswith("#EXTM3U\n") and "/master.m3u8?token=" in exported


@pytest.mark.slow
def test_the_first_admin_command_creates_an_admin(tmp_path: Path) -> None:
    blocks = [block for block in shell_blocks("Running") if "user create" in block]
    line = blocks[0].strip()
    assert line.startswith(".venv/bin/veza ")
    arguments = line.removeprefix(".venv/bin/veza ").split()
    arguments[arguments.index("--data-dir") + 1] = str(tmp_path / "var")
    created = subprocess.run(
        [sys.executable, "-m", "veza", *arguments],
        input="a long passphrase\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=clean_environment(),
    )
    assert created.returncode == 0, created.stderr
    assert "role admin" in created.stdout
