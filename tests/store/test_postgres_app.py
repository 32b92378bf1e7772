"""The whole server on PostgreSQL: readiness, and two processes sharing one job queue."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trio

from tests.support import eventually, require_postgres, require_tool
from tests.support.postgres import postgres_schema
from tests.support.server import make_settings
from tests.support.tracks import write_music
from veza.serve import Running, run_veza


@pytest.mark.slow
async def test_two_servers_on_one_postgres_share_the_job_queue(tmp_path: Path) -> None:
    require_tool("ffmpeg")
    url = require_postgres()
    async with postgres_schema(url) as database:
        schema = (await database.fetch_one("SELECT current_schema() AS s"))["s"]  # type: ignore[index]
        database_url = f"{url}?search_path={schema}"
        shutdown = trio.Event()
        async with trio.open_nursery() as nursery:
            servers: list[Running] = []
            settings = make_settings(tmp_path / "shared", database_url=database_url, job_workers=1)
            for _ in range(2):
                servers.append(await nursery.start(run_veza, settings, shutdown))
            for server in servers:
                async with httpx.AsyncClient(base_url=server.urls[0]) as client:
                    status = (await client.get("/status")).json()
                assert status["database"] == "postgresql"
                assert status["checks"] == {"database": "ok", "jobs": "ok"}
            library = servers[0].services.tracks
            tracks = [
                await library.import_file(write_music(tmp_path / f"t{i}.wav", 3)) for i in range(4)
            ]

            async def all_settled() -> bool:
                rows = await database.fetch_all("SELECT status FROM jobs")
                return len(rows) == 4 and all(r["status"] == "done" for r in rows)

            await eventually(all_settled, limit_s=60)
            shutdown.set()
        # Two servers' workers raced for every job; each still ran exactly once.
        jobs = await database.fetch_all("SELECT attempts FROM jobs")
        assert [job["attempts"] for job in jobs] == [1, 1, 1, 1]
        for track in tracks:
            row = await database.fetch_one("SELECT status FROM tracks WHERE id = ?", (track.id,))
            assert row == {"status": "ready"}
