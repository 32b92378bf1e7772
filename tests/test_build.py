"""The one-file build (`./scripts/build`, dist/veza) in a clean environment: no Python, no
ffmpeg, nothing on PATH, a fresh data dir. Outside the suite's time budget: it runs when
dist/veza exists or VEZA_TEST_BUILD=1 (CI builds it first, .ci/run)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.support.process import ServeProcess
from tests.support.remote import Remote
from tests.support.tracks import write_music

BUILT = Path(__file__).resolve().parent.parent / "dist" / "veza"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not BUILT.exists() and os.environ.get("VEZA_TEST_BUILD") != "1",
        reason="no dist/veza (./scripts/build makes it; VEZA_TEST_BUILD=1 requires it)",
    ),
]


def clean_environment(tmp_path: Path) -> dict[str, str]:
    """`env -i PATH=<an empty folder>`: no ffmpeg, no python, no VEZA_* settings."""
    empty = tmp_path / "empty-path"
    empty.mkdir(exist_ok=True)
    return {"PATH": str(empty)}


def test_the_built_file_says_which_ffmpeg_it_carries(tmp_path: Path) -> None:
    assert BUILT.exists(), "VEZA_TEST_BUILD=1 but no dist/veza: run ./scripts/build"
    done = subprocess.run(
        [str(BUILT), "check", "--data-dir", str(tmp_path / "data")],
        env=clean_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "(imageio-ffmpeg; ladder aac:256,aac:128,aac:64)" in done.stdout
    assert "ffmpeg encoders: aac libmp3lame libopus flac" in done.stdout


def test_the_built_file_serves_the_client_and_plays_an_uploaded_wav(tmp_path: Path) -> None:
    assert BUILT.exists(), "VEZA_TEST_BUILD=1 but no dist/veza: run ./scripts/build"
    song = write_music(tmp_path / "song.wav", 8.0)
    server = ServeProcess(
        tmp_path / "data", program=[str(BUILT)], environment=clean_environment(tmp_path)
    )
    remote = Remote(server.url)
    try:
        assert remote.client.get("/health").json() == {"status": "ok"}
        page = remote.client.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "<script" in page.text
        token = remote.register("listener")
        track_id = remote.upload(token, song, "a song")
        track = remote.wait_ready(token, track_id)
        # AAC renditions: made by the bundled FFmpeg (without one, the ladder is MP3 only).
        assert [r["name"] for r in track["renditions"]] == ["aac_256", "aac_128", "aac_64"]
        assert remote.play(token, track_id) > 50_000
        code, _ = server.stop(signal.SIGTERM, timeout=30)
        assert code == 0, server.log()
    finally:
        remote.close()
        server.kill()
