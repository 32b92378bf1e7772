"""Shared test helpers: skipping on missing tools (fatal under VEZA_TEST_STRICT=1)."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Awaitable, Callable
from typing import NoReturn
from urllib.parse import urlsplit

import pytest
import trio

STRICT = os.environ.get("VEZA_TEST_STRICT") == "1"


def require_tool(name: str) -> str:
    """Return the path of an executable, or skip (fail under strict mode) when it is missing."""
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed")
    return path


def unavailable(reason: str) -> NoReturn:
    """Skip the test for want of a tool; under VEZA_TEST_STRICT=1 (CI) that is a failure."""
    if STRICT:
        pytest.fail(f"{reason} (VEZA_TEST_STRICT=1)")
    pytest.skip(reason)


async def eventually(check: Callable[[], Awaitable[bool]], limit_s: float = 20) -> None:
    """Poll state that lives outside this task (a database, a child process) until it holds."""
    with trio.fail_after(limit_s):
        while not await check():  # noqa: ASYNC110 - the state is external; nothing to wait on
            await trio.sleep(0.02)


def require_postgres() -> str:
    """The URL of a PostgreSQL server for tests (VEZA_TEST_POSTGRES_URL, else the local one),
    or skip (fail under strict mode) when nothing answers there."""
    url = os.environ.get("VEZA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 2).close()
    except OSError as error:
        unavailable(f"no PostgreSQL server at {parts.hostname}:{parts.port} ({error})")
    return url
