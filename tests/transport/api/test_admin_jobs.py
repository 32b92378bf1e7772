"""The admin's job views over real HTTP on both backends: jobs listed with their reasons,
a failed one retried, a queued or running one cancelled, and no one else let in."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import eventually, require_tool
from tests.support.accounts import bearer, make_admin, register
from tests.support.library import BACKENDS, library_server, upload
from tests.support.server import assert_error
from tests.support.tracks import wait_for_track, write_damaged_flac, write_music


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
async def test_jobs_listed_retried_and_cancelled(backend: str, tmp_path: Path) -> None:
    require_tool("ffmpeg")
    async with library_server(backend, tmp_path, job_workers=1) as server:
        admin = await make_admin(server)
        headers = bearer(admin["access_token"])
        user = await register(server.client, "alice")
        damaged = await upload(
            server, user["access_token"], write_damaged_flac(tmp_path / "d.flac")
        )
        assert damaged.status_code == 202, damaged.text
        track_id = damaged.json()["id"]
        assert (await wait_for_track(server, track_id)).status == "failed"

        failed = (
            await server.client.get("/api/v1/admin/jobs?status=failed", headers=headers)
        ).json()
        (job,) = failed["items"]
        assert (job["kind"], job["subject_id"], job["status"]) == ("transcode", track_id, "failed")
        assert job["error"]

        retried = await server.client.post(f"/api/v1/admin/jobs/{job['id']}/retry", headers=headers)
        assert retried.status_code == 200, retried.text
        assert retried.json()["attempts"] == 0
        assert retried.json()["status"] in ("queued", "running")

        async def failed_again() -> bool:
            found = await server.store.jobs.get(job["id"])
            return found is not None and found.status == "failed"

        await eventually(failed_again, limit_s=60)
        ended = await server.client.post(f"/api/v1/admin/jobs/{job['id']}/cancel", headers=headers)
        assert_error(ended, 409, "conflict")

        # A long transcode, cancelled while it is queued or running.
        long = await upload(server, user["access_token"], write_music(tmp_path / "long.wav", 120))
        long_job = await server.store.jobs.latest_for(long.json()["id"])
        assert long_job is not None
        cancelled = await server.client.post(
            f"/api/v1/admin/jobs/{long_job.id}/cancel", headers=headers
        )
        assert cancelled.status_code == 200, cancelled.text
        assert (cancelled.json()["status"], cancelled.json()["error"]) == (
            "failed",
            "cancelled by an admin",
        )
        track = (
            await server.client.get(f"/api/v1/tracks/{long.json()['id']}", headers=headers)
        ).json()
        assert (track["status"], track["error"]) == ("failed", "cancelled by an admin")
        listed = (await server.client.get("/api/v1/admin/jobs?limit=1", headers=headers)).json()
        assert listed["items"][0]["id"] == long_job.id and listed["next_cursor"]
        following = await server.client.get(
            f"/api/v1/admin/jobs?limit=5&cursor={listed['next_cursor']}", headers=headers
        )
        assert [j["id"] for j in following.json()["items"]] == [job["id"]]

        unknown = await server.client.post("/api/v1/admin/jobs/nope/retry", headers=headers)
        assert_error(unknown, 404, "not_found")
        running = await server.client.post(
            f"/api/v1/admin/jobs/{long_job.id}/retry", headers=headers
        )
        assert running.status_code == 200  # failed by the cancel: it may be tried again
        refused = await server.client.get(
            "/api/v1/admin/jobs", headers=bearer(user["access_token"])
        )
        assert_error(refused, 403, "forbidden")
        bad = await server.client.get("/api/v1/admin/jobs?status=lost", headers=headers)
        assert_error(bad, 422, "validation_failed")
