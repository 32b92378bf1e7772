"""Fixtures: settings for a fresh data dir per test, and the real server on a loopback port
(tests/support/server.py).

The server reads the real time, unless the test uses the `clock` fixture (directly, through
another fixture, or with `pytest.mark.usefixtures("clock")`): then it runs on that virtual
clock, which stands still until the test advances it."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.support.clock import Clock
from tests.support.server import RunningServer, make_settings, serving
from veza.config import Settings
from veza.transcode.options import bundled_ffmpeg

_IMAGEIO_DIR: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    """`VEZA_TEST_FFMPEG=imageio`: every test (and every `veza` child) runs imageio-ffmpeg's
    FFmpeg, found first on PATH, with no ffprobe beside it, as a one-file build would."""
    if os.environ.get("VEZA_TEST_FFMPEG", "") != "imageio":
        return
    ffmpeg = bundled_ffmpeg()
    if ffmpeg is None:
        raise pytest.UsageError("VEZA_TEST_FFMPEG=imageio: imageio-ffmpeg is not installed")
    folder = tempfile.mkdtemp(prefix="veza-imageio-ffmpeg-")
    os.symlink(ffmpeg, os.path.join(folder, "ffmpeg"))
    os.environ["PATH"] = folder + os.pathsep + os.environ.get("PATH", "")
    _IMAGEIO_DIR.append(folder)


def pytest_unconfigure(config: pytest.Config) -> None:
    for folder in _IMAGEIO_DIR:
        shutil.rmtree(folder, ignore_errors=True)


def pytest_report_header(config: pytest.Config) -> str:
    return f"ffmpeg: {shutil.which('ffmpeg')}"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def server(
    settings: Settings, request: pytest.FixtureRequest
) -> AsyncIterator[RunningServer]:
    now: Callable[[], float] = time.time
    if "clock" in request.fixturenames:
        now = request.getfixturevalue("clock")
    async with serving(settings, now) as running:
        yield running
