"""Tracks taken into the library are transcoded by the server's job workers, survive a crash
of the server mid-transcode, and fail with a reason when the file is damaged."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
from pathlib import Path

import m3u8
import pytest

from tests.support import require_tool
from tests.support.process import ServeProcess, run_veza, wait_until
from tests.support.server import RunningServer
from tests.support.tracks import wait_for_track, write_damaged_flac, write_music


def assert_complete_hls(hls: Path) -> None:
    master = m3u8.load(str(hls / "master.m3u8"))
    assert master.is_variant and len(master.playlists) >= 2
    for variant in master.playlists:
        media = m3u8.load(str(hls / variant.uri))
        assert media.is_endlist
        assert media.playlist_type == "event"  # appended to while transcoding, then ENDLIST
        for segment in media.segments:
            assert (hls / Path(variant.uri).parent / segment.uri.split("?")[0]).stat().st_size > 0
    leftovers = [p for p in hls.rglob("*") if p.is_file() and ".tmp" in p.name]
    assert leftovers == []


@pytest.mark.slow
async def test_an_imported_track_becomes_ready_with_its_renditions(
    server: RunningServer, tmp_path: Path
) -> None:
    require_tool("ffmpeg")
    source = write_music(tmp_path / "Song Title.wav", 8)
    track = await server.services.tracks.import_file(source)
    assert track.status == "processing"
    assert track.title == "Song Title"
    ready = await wait_for_track(server, track.id)
    assert ready.status == "ready", ready.error
    assert abs((ready.duration_s or 0) - 8) < 0.05
    assert ready.loudness_lufs is not None and ready.gain_db is not None
    assert {r["name"] for r in ready.renditions} == {"aac_256", "aac_128", "aac_64"}
    assert_complete_hls(server.services.tracks.media.hls_dir(track.id, 1))


async def test_a_damaged_file_fails_its_track_with_a_reason(
    server: RunningServer, tmp_path: Path
) -> None:
    track = await server.services.tracks.import_file(write_damaged_flac(tmp_path / "bad.flac"))
    failed = await wait_for_track(server, track.id)
    assert failed.status == "failed"
    assert failed.error and failed.error.startswith("the file is damaged: ")
    job = await server.store.database.fetch_one(
        "SELECT status, attempts FROM jobs WHERE subject_id = ?", (track.id,)
    )
    assert job == {"status": "failed", "attempts": 1}


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def start_transcoding(tmp_path: Path, seconds: int) -> tuple[ServeProcess, Path, str]:
    """`veza serve` with one worker, a long track imported through the CLI, and the transcode
    under way (30% done); returns the server, its data dir and the track id."""
    require_tool("ffmpeg")
    data = tmp_path / "data"
    source = write_music(tmp_path / "long.wav", seconds)
    server = ServeProcess(data, VEZA_JOB_WORKERS="1")
    try:
        imported = run_veza("import", "--data-dir", str(data), str(source))
        assert imported.returncode == 0, imported.stderr
        wait_until(lambda: (s := _job_state(data / "veza.db")) is not None and s[1] >= 0.3)
    except BaseException:
        server.kill()
        raise
    return server, data, imported.stdout.split()[0]


@pytest.mark.slow
def test_sigterm_mid_transcode_exits_cleanly_and_requeues_the_job(tmp_path: Path) -> None:
    server, data, track_id = start_transcoding(tmp_path, 120)
    try:
        encoders = _children(server.process.pid)
        assert encoders, "the transcode runs FFmpeg children"
        code, seconds = server.stop(signal.SIGTERM)
    finally:
        server.kill()
    assert code == 0, server.log()
    assert seconds < 5
    assert _job_state(data / "veza.db") == ("queued", 0.0, 0)
    assert [pid for pid in encoders if Path(f"/proc/{pid}").exists()] == []
    hls = data / "media" / track_id / "hls" / "1"
    assert [p for p in hls.rglob("*") if ".tmp" in p.name] == []


def _job_state(database: Path) -> tuple[str, float, int] | None:
    with sqlite3.connect(database) as connection:
        row = connection.execute("SELECT status, progress, attempts FROM jobs").fetchone()
    return None if row is None else (row[0], float(row[1]), int(row[2]))


@pytest.mark.slow
def test_a_server_killed_mid_transcode_resumes_the_job_on_restart(tmp_path: Path) -> None:
    server, data, track_id = start_transcoding(tmp_path, 240)
    try:
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
    finally:
        server.kill()
    state = _job_state(data / "veza.db")
    assert state is not None and state[0] == "running"
    assert state[1] < 1.0, "the transcode finished before the kill; make the source longer"
    hls = data / "media" / track_id / "hls" / "1"
    assert any(hls.rglob("*.aac")), "some segments were written before the kill"

    restarted = ServeProcess(data, VEZA_JOB_WORKERS="1")
    try:
        wait_until(lambda: (s := _job_state(data / "veza.db")) is not None and s[0] == "done", 120)
        code, _ = restarted.stop(signal.SIGTERM)
    finally:
        restarted.kill()
    assert code == 0
    assert _job_state(data / "veza.db") == ("done", 1.0, 2)
    assert "re-queued" in restarted.log()
    with sqlite3.connect(data / "veza.db") as connection:
        status, duration = connection.execute(
            "SELECT status, duration_s FROM tracks WHERE id = ?", (track_id,)
        ).fetchone()
    assert status == "ready" and abs(duration - 240) < 0.05
    assert_complete_hls(hls)
    decoded = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(hls / "master.m3u8"),
            "-map",
            "0:a:0",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert decoded.returncode == 0, decoded.stderr
