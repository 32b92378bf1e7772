"""Music folders scanned in place, over real HTTP on both backends: the first scan at start,
then a file added, changed and deleted between scans; hidden files, links leading out and
files that are not audio skipped; the originals never written (checksums and mtimes)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.support import eventually, require_tool
from tests.support.accounts import bearer, fast_settings, make_admin, register
from tests.support.library import BACKENDS, checksums, library_server
from tests.support.server import RunningServer, assert_error
from tests.support.tracks import write_music
from veza.app import build_services
from veza.store import open_store
from veza.tracks.folders import content_hash
from veza.tracks.scan import ScanFinished, ScanProgress, library_topic


def make_folder(tmp_path: Path) -> Path:
    music = tmp_path / "music"
    (music / "Album").mkdir(parents=True)
    (music / ".hidden").mkdir()
    write_music(music / "Album" / "one.wav", 2)
    write_music(music / "Album" / "two.wav", 3)
    write_music(music / ".secret.wav", 1)
    write_music(music / ".hidden" / "inside.wav", 1)
    (music / "Album" / "notes.txt").write_text("liner notes\n")
    (music / "Album" / "fake.mp3").write_text("not music at all\n" * 100)
    (music / "Album" / "cover.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 100)
    outside = write_music(tmp_path / "outside.wav", 1)
    os.symlink(outside, music / "Album" / "escape.wav")
    os.symlink(music / "Album" / "one.wav", music / "again.wav")  # inside: one track
    return music


async def titles(server: RunningServer, token: str) -> dict[str, dict[str, Any]]:
    listed = await server.client.get("/api/v1/tracks?limit=50", headers=bearer(token))
    return {track["title"]: track for track in listed.json()["items"]}


async def transcodes_settled(server: RunningServer) -> None:
    async def settled() -> bool:
        counts = await server.store.jobs.counts()
        return counts.get("queued", 0) == 0 and counts.get("running", 0) == 0

    await eventually(settled, limit_s=90)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_music_folder_is_scanned_in_place(backend: str, tmp_path: Path) -> None:
    require_tool("ffmpeg")
    music = make_folder(tmp_path)
    before = checksums(music)
    async with library_server(backend, tmp_path, music_folders=[str(music)]) as server:

        async def first_scan_done() -> bool:
            return await server.store.folders.last_scan() is not None

        await eventually(first_scan_done, limit_s=60)  # the scan at start
        admin = await make_admin(server)
        user = await register(server.client, "listener")
        token = user["access_token"]
        found = await titles(server, token)
        assert sorted(found) == ["one", "two"]
        assert all(track["owner_id"] is None for track in found.values())
        last = (
            await server.client.get("/api/v1/admin/scan", headers=bearer(admin["access_token"]))
        ).json()
        assert last["state"] == "idle" and last["folders"] == 1
        assert last["last"]["added"] == 2
        assert last["last"]["skipped_why"] == {
            "a link leading out of the folder": 1,
            "hidden": 2,
            "not audio": 3,  # notes.txt and cover.jpg by their bytes, fake.mp3 by the probe
        }
        await transcodes_settled(server)
        assert {t["status"] for t in (await titles(server, token)).values()} == {"ready"}
        stream = await server.client.get(
            f"/api/v1/tracks/{found['one']['id']}/stream", headers=bearer(token)
        )
        assert stream.status_code == 200
        assert checksums(music) == before  # read, never written

        # Between two scans: one file added, one changed, one deleted.
        write_music(music / "Album" / "three.wav", 2)
        changed = music / "Album" / "two.wav"
        shutil.copyfile(write_music(tmp_path / "longer.wav", 4), changed)
        (music / "Album" / "one.wav").unlink()
        expected = checksums(music)
        async with server.services.events.subscribe(library_topic()) as events:
            started = await server.client.post(
                "/api/v1/admin/scan", headers=bearer(admin["access_token"])
            )
            assert started.status_code == 202, started.text
            job_id = started.json()["job_id"]
            progress: list[float] = []
            with trio.fail_after(60):
                async for delivery in events:
                    if isinstance(delivery.event, ScanProgress):
                        progress.append(delivery.event.fraction)
                    elif isinstance(delivery.event, ScanFinished):
                        finished = delivery.event
                        break
        assert finished.job_id == job_id
        assert (finished.added, finished.updated, finished.removed) == (1, 1, 1)
        assert progress and progress[-1] == 1.0
        now = await titles(server, token)
        assert sorted(now) == ["three", "two"]
        assert now["two"]["id"] == found["two"]["id"]  # the same track, taken in anew
        assert now["two"]["original_bytes"] == changed.stat().st_size
        await transcodes_settled(server)
        assert (await titles(server, token))["two"]["duration_s"] == pytest.approx(4, abs=0.05)
        assert checksums(music) == expected
        # The deleted file's track is gone with its media folder.
        assert not (server.settings.media_dir / found["one"]["id"]).exists()
        status = (await server.client.get("/status")).json()
        assert status["scan"] == {"folders": 1, "state": "idle", "progress": 0.0}


async def test_a_scan_needs_a_folder_and_an_admin(tmp_path: Path) -> None:
    async with library_server("sqlite", tmp_path) as server:
        admin = await make_admin(server)
        user = await register(server.client, "someone")
        refused = await server.client.post(
            "/api/v1/admin/scan", headers=bearer(user["access_token"])
        )
        assert_error(refused, 403, "forbidden")
        none = await server.client.post("/api/v1/admin/scan", headers=bearer(admin["access_token"]))
        assert_error(none, 409, "conflict")


async def test_a_scan_cut_short_by_a_crash_is_taken_up_again(tmp_path: Path) -> None:
    """A scan left running by a process that died (its job running, one file already added)
    is re-queued at start-up and finishes: the file it had added is not added twice."""
    music = tmp_path / "music"
    music.mkdir()
    done_before = write_music(music / "a.wav", 1)
    write_music(music / "b.wav", 1)
    settings = fast_settings(tmp_path, music_folders=[str(music)])
    async with open_store(settings) as store:
        services = build_services(settings, store, secret="")
        job = await services.scans.request()
        assert job is not None
        async with store.transaction() as tx:
            claimed = await tx.jobs.claim("a process that died", 60.0)
        assert claimed is not None and claimed.id == job.id
        stat = done_before.stat()
        await services.tracks.add_in_place(
            done_before.resolve(), stat.st_size, stat.st_mtime, content_hash(done_before)
        )
    async with library_server("sqlite", tmp_path, music_folders=[str(music)]) as server:

        async def finished() -> bool:
            return await server.store.folders.last_scan() is not None

        await eventually(finished, limit_s=60)
        last = await server.store.folders.last_scan()
        assert last is not None and last["job_id"] == job.id
        assert (last["added"], last["unchanged"]) == (1, 1)
        resumed = await server.store.jobs.get(job.id)
        assert resumed is not None and (resumed.status, resumed.attempts) == ("done", 2)
        assert len(await server.store.folders.sources()) == 2
