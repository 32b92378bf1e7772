"""Fixtures of the browser tests: the tools checked before the Trio run (a skip raised inside it
loses its reason), and a server with cheap hashing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.players.browser import chromium_path, require_playwright
from tests.support import require_tool
from tests.support.accounts import fast_settings
from veza.config import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(tmp_path)


@pytest.fixture
def chromium() -> str:
    require_playwright()
    return chromium_path()


@pytest.fixture
def ffmpeg() -> str:
    return require_tool("ffmpeg")
