"""Storage quotas, duplicates and the free-space floor over real HTTP: an upload exactly at the
quota passes and one byte over is refused before it is stored; the same file twice is one
track; uploads are refused with 507 under the floor."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from tests.support import require_tool
from tests.support.accounts import administer, bearer, make_admin, register
from tests.support.library import BACKENDS, library_server, upload
from tests.support.server import assert_error
from tests.support.tracks import wait_for_track, write_music


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
async def test_quota_edges_duplicates_and_usage(backend: str, tmp_path: Path) -> None:
    require_tool("ffmpeg")
    async with library_server(backend, tmp_path, storage_quota_bytes=10_000_000) as server:
        admin = await make_admin(server)
        alice = await register(server.client, "alice")
        token, alice_id = alice["access_token"], alice["user"]["id"]
        me = (await server.client.get("/api/v1/me", headers=bearer(token))).json()
        assert (me["usage_bytes"], me["quota_bytes"]) == (0, 10_000_000)
        root = (await server.client.get("/api/v1/me", headers=bearer(admin["access_token"]))).json()
        assert root["quota_bytes"] is None  # admins have no limit

        first = write_music(tmp_path / "first.wav", 2)
        created = await upload(server, token, first)
        assert created.status_code == 202, created.text
        await wait_for_track(server, created.json()["id"])
        # The same bytes again: that track, not a copy.
        again = await upload(server, token, first, title="another name")
        assert again.status_code == 200, again.text
        assert again.json()["id"] == created.json()["id"]
        # Another user's copy is theirs (public, so Alice's list below shows it too).
        bob = await register(server.client, "bob")
        bobs = await upload(server, bob["access_token"], first, visibility="public")
        assert bobs.status_code == 202

        used = (await server.client.get("/api/v1/me", headers=bearer(token))).json()["usage_bytes"]
        assert used > first.stat().st_size  # the renditions count too
        second = write_music(tmp_path / "second.wav", 1)
        size = second.stat().st_size
        over = await administer(server, admin, alice_id, quota_bytes=used + size - 1)
        assert over.status_code == 200, over.text
        assert over.json()["quota_bytes"] == used + size - 1
        refused = await upload(server, token, second)
        assert_error(refused, 413, "quota_exceeded")
        assert refused.json()["error"]["details"] == {
            "used_bytes": used,
            "quota_bytes": used + size - 1,
            "size_bytes": size,
        }
        assert list((server.settings.upload_dir).iterdir()) == []  # nothing kept of it
        listed = (await server.client.get("/api/v1/tracks", headers=bearer(token))).json()
        assert len(listed["items"]) == 2  # alice's and bob's copies of the first

        exactly = await administer(server, admin, alice_id, quota_bytes=used + size)
        assert exactly.status_code == 200
        assert (await upload(server, token, second)).status_code == 202

        # Back to the default; the admin's view of users shows what each takes.
        reset = await administer(server, admin, alice_id, quota_bytes=None)
        assert reset.json()["quota_bytes"] == 10_000_000
        users = await server.client.get(
            "/api/v1/admin/users", headers=bearer(admin["access_token"])
        )
        usage = {u["username"]: u["usage_bytes"] for u in users.json()["items"]}
        assert usage["alice"] >= used + size and usage["root"] == 0
        negative = await administer(server, admin, alice_id, quota_bytes=-1)
        assert_error(negative, 422, "validation_failed")


@pytest.mark.slow
async def test_concurrent_uploads_of_one_user_are_admitted_one_at_a_time(tmp_path: Path) -> None:
    # Four different files at once, room for one: each upload is checked against what the
    # others added, so exactly one is taken (checked against the store alone, several were).
    files = [write_music(tmp_path / f"{n}.wav", 1 + n / 1000) for n in range(4)]
    room = max(f.stat().st_size for f in files) * 3 // 2
    async with library_server("sqlite", tmp_path, storage_quota_bytes=room) as server:
        token = (await register(server.client, "alice"))["access_token"]
        answers: list[int] = []

        async def send(path: Path) -> None:
            answers.append((await upload(server, token, path)).status_code)

        async with trio.open_nursery() as nursery:
            for path in files:
                nursery.start_soon(send, path)
        assert sorted(answers) == [202, 413, 413, 413]


async def test_uploads_are_refused_under_the_free_space_floor(tmp_path: Path) -> None:
    async with library_server("sqlite", tmp_path, min_free_disk_bytes=2**62) as server:
        alice = await register(server.client, "alice")
        refused = await upload(server, alice["access_token"], write_music(tmp_path / "a.wav", 1))
        assert_error(refused, 507, "insufficient_storage")
        assert refused.headers["connection"] == "close"
        # The rest of the server goes on.
        me = await server.client.get("/api/v1/me", headers=bearer(alice["access_token"]))
        assert me.status_code == 200
