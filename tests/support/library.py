"""The library's tests: the real server on either backend, uploads, and file checksums."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.support import require_postgres
from tests.support.accounts import bearer, fast_settings
from tests.support.postgres import postgres_schema
from tests.support.server import RunningServer, serving

BACKENDS = ["sqlite", "postgresql"]


@asynccontextmanager
async def library_server(
    backend: str, tmp_path: Path, **overrides: Any
) -> AsyncIterator[RunningServer]:
    """The real server on a loopback port, on SQLite or on a fresh PostgreSQL schema."""
    if backend == "sqlite":
        async with serving(fast_settings(tmp_path, **overrides)) as server:
            yield server
        return
    url = require_postgres()
    async with postgres_schema(url) as database:
        row = await database.fetch_one("SELECT current_schema() AS s")
        assert row is not None
        database_url = f"{url}?search_path={row['s']}"
        settings = fast_settings(tmp_path, database_url=database_url, **overrides)
        async with serving(settings) as server:
            yield server


async def upload(server: RunningServer, token: str, path: Path, **fields: str) -> httpx.Response:
    with path.open("rb") as file:
        return await server.client.post(
            "/api/v1/tracks",
            files={"file": (path.name, file, "audio/wav")},
            data=fields,
            headers=bearer(token),
        )


def checksums(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under `folder` (links not followed): its SHA-256 and mtime in ns."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found[str(path.relative_to(folder))] = (digest, path.stat().st_mtime_ns)
    return found
