"""Shared test helpers: skipping on missing tools (fatal under VEZA_TEST_STRICT=1)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Awaitable, Callable

import pytest
import trio

STRICT = os.environ.get("VEZA_TEST_STRICT") == "1"


def require_tool(name: str) -> str:
    """Return the path of an executable, or skip (fail under strict mode) when it is missing."""
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed"
        if STRICT:
            pytest.fail(f"{reason} (VEZA_TEST_STRICT=1)")
        pytest.skip(reason)
    return path


async def eventually(check: Callable[[], Awaitable[bool]], limit_s: float = 20) -> None:
    """Poll state that lives outside this task (a database, a child process) until it holds."""
    with trio.fail_after(limit_s):
        while not await check():  # noqa: ASYNC110 - the state is external; nothing to wait on
            await trio.sleep(0.02)
