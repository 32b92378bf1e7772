"""Uploads are checked before they are accepted, over real HTTP: what is not audio is refused
at once (415, or 422 for an empty file) and leaves nothing behind; real audio in every common
format is still accepted and becomes a playable track."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import eventually, require_tool
from tests.support.accounts import bearer, fast_settings, register
from tests.support.server import RunningServer, assert_error
from tests.support.tracks import elf_as_mp3, playlist_as_mp3, text_file, write_music
from veza.config import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(tmp_path, max_upload_bytes=16 * 1024 * 1024)


async def upload(server: RunningServer, token: str, path: Path) -> httpx.Response:
    with path.open("rb") as file:
        return await server.client.post(
            "/api/v1/tracks",
            files={"file": (path.name, file, "audio/mpeg")},
            headers=bearer(token),
        )


NOT_AUDIO = "not an audio file we can read"


def empty_file(tmp_path: Path) -> Path:
    path = tmp_path / "song.mp3"
    path.write_bytes(b"")
    return path


def truncated_m4a(tmp_path: Path) -> Path:
    """Cut in half, an M4A loses its index (written last): a format we read, but damaged."""
    whole = ffmpeg_encode(write_music(tmp_path / "in.wav", 3), tmp_path / "whole.m4a", "aac")
    data = whole.read_bytes()
    path = tmp_path / "song.m4a"
    path.write_bytes(data[: len(data) // 2])
    return path


# name: (make it, status, code, the message people read)
REFUSED: dict[str, tuple[Callable[[Path], Path], int, str, str]] = {
    "elf binary": (elf_as_mp3, 415, "unsupported_media_type", "not an audio file we can read"),
    "text file": (text_file, 415, "unsupported_media_type", "not an audio file we can read"),
    "hls playlist": (
        playlist_as_mp3,
        415,
        "unsupported_media_type",
        "not an audio file we can read",
    ),
    "empty file": (empty_file, 422, "validation_failed", "the file is empty"),
    "truncated m4a": (
        truncated_m4a,
        422,
        "validation_failed",
        "the file is damaged: its index is missing; it was probably cut short",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(REFUSED))
async def test_what_is_not_audio_is_refused_at_upload_and_leaves_nothing(
    server: RunningServer, tmp_path: Path, case: str
) -> None:
    require_tool("ffmpeg")
    make, status, code, message = REFUSED[case]
    token = (await register(server.client, "rita"))["access_token"]
    response = await upload(server, token, make(tmp_path))
    assert_error(response, status, code)
    assert response.json()["error"]["message"] == message
    listing = await server.client.get("/api/v1/tracks", headers=bearer(token))
    assert listing.json()["items"] == []
    media = server.services.tracks.media.media_dir
    assert list(media.iterdir()) == []
    queued = await server.store.database.fetch_all("SELECT id FROM jobs", ())
    assert queued == []

    async def spool_removed() -> bool:
        return not any(server.settings.upload_dir.iterdir())

    await eventually(spool_removed, limit_s=5)


def ffmpeg_encode(source: Path, target: Path, codec: str) -> Path:
    command = [require_tool("ffmpeg"), "-v", "error", "-i", str(source), "-c:a", codec]
    subprocess.run([*command, str(target)], check=True)
    return target


ACCEPTED: dict[str, Callable[[Path], Path]] = {
    "song.wav": lambda tmp: write_music(tmp / "song.wav", 3),
    "song.flac": lambda tmp: write_music(tmp / "song.flac", 3),
    "song.mp3": lambda tmp: ffmpeg_encode(write_music(tmp / "in.wav", 3), tmp / "song.mp3", "mp3"),
    "song.m4a": lambda tmp: ffmpeg_encode(write_music(tmp / "in.wav", 3), tmp / "song.m4a", "aac"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ACCEPTED))
async def test_real_audio_is_still_accepted_and_becomes_ready(
    server: RunningServer, tmp_path: Path, name: str
) -> None:
    require_tool("ffmpeg")
    token = (await register(server.client, "sam"))["access_token"]
    response = await upload(server, token, ACCEPTED[name](tmp_path))
    assert response.status_code == 202, response.text
    track_id = response.json()["id"]
    found: dict[str, Any] = {}

    async def settled() -> bool:
        answer = await server.client.get(f"/api/v1/tracks/{track_id}", headers=bearer(token))
        found.update(answer.json())
        return found["status"] != "processing"

    await eventually(settled, limit_s=60)
    assert found["status"] == "ready", found["error"]
    assert abs(found["duration_s"] - 3) < 0.1
