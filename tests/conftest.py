"""Fixtures: settings for a fresh data dir per test, and the real server on a loopback port
(tests/support/server.py).

The server reads the real time, unless the test uses the `clock` fixture (directly, through
another fixture, or with `pytest.mark.usefixtures("clock")`): then it runs on that virtual
clock, which stands still until the test advances it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.support.clock import Clock
from tests.support.server import RunningServer, make_settings, serving
from veza.config import Settings


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
