"""`veza scan`, `veza import DIR` and `veza check --media` as real child processes."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import trio

from tests.support import eventually, require_tool
from tests.support.accounts import PASSWORD, bearer, register
from tests.support.library import checksums, upload
from tests.support.process import clean_environment, run_veza, veza_command
from tests.support.server import RunningServer
from tests.support.tracks import wait_for_track, write_music


def create_user(data: Path, username: str, *admin: str) -> None:
    done = subprocess.run(
        veza_command(
            "user",
            "create",
            "--data-dir",
            str(data),
            "--username",
            username,
            "--email",
            f"{username}@example.org",
            *admin,
        ),
        input=PASSWORD + "\n",
        env=clean_environment(VEZA_ARGON2_MEMORY_KIB="1024", VEZA_ARGON2_TIME_COST="1"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_veza_scan_adds_then_finds_nothing_new(tmp_path: Path) -> None:
    music = tmp_path / "music"
    music.mkdir()
    write_music(music / "a.wav", 1)
    write_music(music / "b.flac", 1)
    (music / "readme.txt").write_text("hello\n")
    data = str(tmp_path / "data")
    before = checksums(music)

    first = run_veza("scan", "--data-dir", data, VEZA_MUSIC_FOLDERS=str(music))
    assert first.returncode == 0, first.stderr
    assert "added 2, updated 0, removed 0, unchanged 0, skipped 1 (1 not audio)" in first.stdout
    again = run_veza("scan", "--data-dir", data, VEZA_MUSIC_FOLDERS=str(music))
    assert again.returncode == 0, again.stderr
    assert "added 0, updated 0, removed 0, unchanged 2" in again.stdout
    (music / "a.wav").unlink()
    last = run_veza("scan", "--data-dir", data, VEZA_MUSIC_FOLDERS=f"{music},{tmp_path / 'gone'}")
    assert "removed 1, unchanged 1" in last.stdout, last.stdout
    assert "1 music folder(s) cannot be read" in last.stderr
    assert {k: v for k, v in checksums(music).items()} == {
        k: v for k, v in before.items() if k != "a.wav"
    }
    nothing = run_veza("scan", "--data-dir", data)
    assert nothing.returncode == 2
    assert "no music folder is configured" in nothing.stderr


@pytest.mark.slow
def test_import_of_folders_skips_duplicates_and_says_why_files_failed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    create_user(data, "root", "--admin")
    create_user(data, "alice")
    records = tmp_path / "records"
    (records / "deep" / "deeper").mkdir(parents=True)
    song = write_music(records / "song.wav", 1)
    shutil.copyfile(song, records / "deep" / "same song.wav")  # the same bytes: skipped
    write_music(records / "deep" / "deeper" / "other.flac", 1)
    (records / "deep" / "broken.flac").write_bytes(b"fLaC" + b"\0" * 200)
    (records / "deep" / "empty.wav").write_bytes(b"")
    (records / ".hidden.wav").write_bytes(song.read_bytes())
    (records / "cover.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 50)

    done = run_veza("import", "--data-dir", str(data), str(records))
    assert done.returncode == 1, done.stderr
    assert "imported 2, skipped 1 (already in the library), failed 1" in done.stdout, done.stdout
    # The hidden file, the cover and the empty file (its bytes say nothing of audio).
    assert "3 file(s) in the folders passed over" in done.stdout
    assert "already in the library as" in done.stdout
    failed = [line for line in done.stderr.splitlines() if line.startswith("veza: /")]
    assert failed == [
        f"veza: {records / 'deep' / 'broken.flac'}: "
        "the file is damaged: it looks like a FLAC file but cannot be read"
    ]
    assert "\r" not in done.stderr  # no progress bar into a pipe

    again = run_veza("import", "--data-dir", str(data), str(records / "song.wav"))
    assert "imported 0, skipped 1" in again.stdout and again.returncode == 0
    # Another owner has none of them yet.
    theirs = run_veza("import", "--data-dir", str(data), "--owner", "alice", str(song))
    assert "imported 1, skipped 0" in theirs.stdout, theirs.stdout + theirs.stderr
    unknown = run_veza("import", "--data-dir", str(data), "--owner", "nobody", str(song))
    assert unknown.returncode == 2 and "no user named 'nobody'" in unknown.stderr


@pytest.mark.slow
async def test_check_media_reports_and_repairs(server: RunningServer, tmp_path: Path) -> None:
    require_tool("ffmpeg")
    user = await register(server.client, "alice")
    track = (await upload(server, user["access_token"], write_music(tmp_path / "a.wav", 2))).json()
    await wait_for_track(server, track["id"])
    media = server.settings.media_dir
    shutil.rmtree(media / track["id"] / "hls")  # renditions lost
    orphan = media / "0123456789abcdef01234567"
    (orphan / "hls").mkdir(parents=True)
    os.utime(orphan, (1_000_000_000, 1_000_000_000))  # old enough not to be an upload
    data = str(server.settings.data_dir)

    found = await trio.run_process(
        veza_command("check", "--media", "--data-dir", data),
        env=clean_environment(),
        capture_stdout=True,
        check=False,
    )
    out = found.stdout.decode()
    assert found.returncode == 1, out
    assert f"track {track['id']}: renditions missing" in out
    assert f"media/{orphan.name}: belongs to no track" in out

    repaired = await trio.run_process(
        veza_command("check", "--media", "--repair", "--data-dir", data),
        env=clean_environment(),
        capture_stdout=True,
        check=False,
    )
    assert repaired.returncode == 0, repaired.stdout.decode()
    assert "repaired: 1 transcode(s) queued, 1 folder(s) removed" in repaired.stdout.decode()
    assert not orphan.exists()

    async def transcoded_again() -> bool:
        job = await server.store.jobs.latest_for(track["id"])
        return job is not None and job.status == "done" and job.attempts == 1

    server.services.workers.wake()
    await eventually(transcoded_again, limit_s=60)
    clean = await trio.run_process(
        veza_command("check", "--media", "--data-dir", data),
        env=clean_environment(),
        capture_stdout=True,
        check=False,
    )
    assert clean.returncode == 0, clean.stdout.decode()
    stream = await server.client.get(
        f"/api/v1/tracks/{track['id']}/stream", headers=bearer(user["access_token"])
    )
    assert stream.status_code == 200
