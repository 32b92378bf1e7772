"""`veza backup` of a running instance taking uploads, then `veza restore` into a fresh data
directory: the restored instance serves the same accounts, tracks and conversations, and plays
the tracks."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest

from tests.support import require_tool
from tests.support.process import ServeProcess, run_veza, wait_until
from tests.support.remote import Remote
from tests.support.tracks import write_music

# Cheap password hashing: the test is about the data, not about argon2.
FAST = {"VEZA_ARGON2_MEMORY_KIB": "1024", "VEZA_ARGON2_TIME_COST": "1", "VEZA_JOB_WORKERS": "1"}


def snapshot_tracks(database: Path) -> dict[str, tuple[str, str]]:
    """Track id: (owner id, title), as the backup's database holds them."""
    with closing(sqlite3.connect(database)) as db:
        rows = db.execute("SELECT id, owner_id, title FROM tracks").fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


@pytest.mark.slow
def test_a_backup_taken_during_uploads_restores_the_same_instance(tmp_path: Path) -> None:
    require_tool("ffmpeg")
    data, backup, restored = tmp_path / "data", tmp_path / "backup", tmp_path / "restored"
    song = write_music(tmp_path / "song.wav", 4.0)
    server = ServeProcess(data, **FAST)
    remote = Remote(server.url)
    try:
        tokens = {name: remote.register(name) for name in ("alice", "bob")}
        me = {name: remote.get("/api/v1/me", token) for name, token in tokens.items()}
        first = remote.upload(tokens["alice"], song, "before the backup")
        remote.wait_ready(tokens["alice"], first)
        talk = remote.post(
            "/api/v1/conversations",
            tokens["alice"],
            {"kind": "direct", "member_ids": [me["bob"]["id"]]},
        )
        path = f"/api/v1/conversations/{talk['id']}/messages"
        remote.post(path, tokens["alice"], {"body": "see you at the show", "client_id": "c1"})
        history = remote.get(path, tokens["bob"])
        cover = data / "media" / first / "cover-test.bin"  # any file beside the original
        cover.write_bytes(b"cover bytes")

        uploads: list[str] = []
        stop = threading.Event()

        def keep_uploading() -> None:
            while not stop.is_set():
                # Other bytes each time: the same file twice is one track (200, not stored again).
                n = len(uploads)
                other = tmp_path / f"during-{n}.wav"
                other.write_bytes(song.read_bytes()[:-4] + n.to_bytes(4, "little"))
                uploads.append(remote.upload(tokens["bob"], other, f"during {n}"))

        uploader = threading.Thread(target=keep_uploading)
        uploader.start()
        try:
            wait_until(lambda: len(uploads) >= 2)
            done = run_veza("backup", "--data-dir", str(data), str(backup))
            during = len(uploads)
        finally:
            stop.set()
            uploader.join()
        assert done.returncode == 0, done.stderr
        assert len(uploads) > 2 or during >= 2
    finally:
        remote.close()
        server.stop(signal.SIGTERM)
        server.kill()

    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["database"] == "sqlite" and manifest["schema_version"] >= 9
    assert (
        "secret.key" in manifest["files"] and f"media/{first}/cover-test.bin" in manifest["files"]
    )
    # Renditions are rebuilt, not copied.
    assert not any("/hls/" in name for name in manifest["files"])
    kept = snapshot_tracks(backup / "veza.db")
    assert first in kept and set(kept) <= {first, *uploads}

    done = run_veza("restore", "--data-dir", str(restored), str(backup))
    assert done.returncode == 0, done.stderr
    assert "transcode(s) queued" in done.stdout
    again = ServeProcess(restored, **FAST)
    remote = Remote(again.url)
    try:
        for name in ("alice", "bob"):
            token = remote.login(name)
            account = remote.get("/api/v1/me", token)
            # Same account; its usage grew with the uploads since `me` was read.
            assert {**account, "usage_bytes": 0} == {**me[name], "usage_bytes": 0}
            mine = {t["id"]: t["title"] for t in remote.tracks(token)
                    if t["owner_id"] == me[name]["id"]}  # fmt: skip
            assert mine == {i: title for i, (owner, title) in kept.items()
                            if owner == me[name]["id"]}  # fmt: skip
            for track_id in mine:
                remote.wait_ready(token, track_id)
                assert remote.play(token, track_id) > 10_000
        assert remote.get(path, remote.login("bob")) == history
        assert (restored / "media" / first / "cover-test.bin").read_bytes() == b"cover bytes"
    finally:
        remote.close()
        again.stop(signal.SIGTERM)
        again.kill()


@pytest.mark.slow
def test_restore_refuses_a_damaged_backup_and_a_data_dir_in_use(tmp_path: Path) -> None:
    data, backup = tmp_path / "data", tmp_path / "backup"
    assert run_veza("migrate", "--data-dir", str(data)).returncode == 0
    (data / "media" / "t1").mkdir(parents=True)
    (data / "media" / "t1" / "original.wav").write_bytes(b"RIFF....")
    (data / "media" / "t1" / "hls").mkdir()
    (data / "media" / "t1" / "hls" / "master.m3u8").write_text("#EXTM3U\n")
    done = run_veza("backup", "--data-dir", str(data), str(backup))
    assert done.returncode == 0, done.stderr
    assert (backup / "media" / "t1" / "original.wav").is_file()
    assert not (backup / "media" / "t1" / "hls").exists()

    again = run_veza("backup", "--data-dir", str(data), str(backup))
    assert again.returncode == 1 and "is not empty" in again.stderr
    in_use = run_veza("restore", "--data-dir", str(data), str(backup))
    assert in_use.returncode == 1 and "the data directory" in in_use.stderr

    (backup / "media" / "t1" / "original.wav").write_bytes(b"RIFF!!!!")
    damaged = run_veza("restore", "--data-dir", str(tmp_path / "new"), str(backup))
    assert damaged.returncode == 1
    assert "media/t1/original.wav does not match its checksum" in damaged.stderr
    assert not (tmp_path / "new").exists()

    no_media = run_veza("backup", "--no-media", "--data-dir", str(data), str(tmp_path / "b2"))
    assert no_media.returncode == 0 and not (tmp_path / "b2" / "media").exists()
