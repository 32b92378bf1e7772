"""Fixtures of the player tests: the test page's origin, and Veza allowing it (CORS) with the
one-codec AAC ladder players can switch within; and the tools, checked by sync fixtures, before
the test's Trio run (pytest-trio reports a skip raised inside the run without its reason)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.players.browser import chromium_path, require_playwright
from tests.players.site import require_hls_js, static_site
from tests.support import require_tool, unavailable
from tests.support.accounts import fast_settings
from veza.config import Settings

AAC_LADDER = "aac:256,aac:128,aac:64"


@pytest.fixture
async def site() -> AsyncIterator[str]:
    """The origin (http://127.0.0.1:PORT) of the test page, another than Veza's."""
    async with static_site() as origin:
        yield origin


@pytest.fixture
async def settings(tmp_path: Path, site: str) -> Settings:
    return fast_settings(tmp_path, cors_origins=site, ladder=AAC_LADDER)


@pytest.fixture
def ffmpeg() -> str:
    return require_tool("ffmpeg")


@pytest.fixture
def chromium() -> str:
    """Debian's Chromium, and Playwright (Python) to drive it."""
    require_playwright()
    return chromium_path()


@pytest.fixture
def hls_js() -> None:
    require_hls_js()


@pytest.fixture
def cvlc() -> str:
    return require_tool("cvlc")


@pytest.fixture
def vlc(cvlc: str) -> list[str]:
    """The command that starts VLC. VLC refuses to run as root ("VLC is not supposed to be run
    as root"): as root (CI, containers), it runs as nobody through util-linux's setpriv."""
    if os.geteuid() != 0:
        return [cvlc]
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        unavailable("VLC refuses to run as root, and setpriv (util-linux) is missing")
    return [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", cvlc]


@pytest.fixture
def vlc_home() -> Iterator[str]:
    """VLC's own home (its settings, its cache), writable by the user it may run as: not under
    pytest's temporary folders, which only root may enter."""
    with tempfile.TemporaryDirectory(prefix="veza-vlc-") as home:
        Path(home).chmod(0o777)
        yield home
