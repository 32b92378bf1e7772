"""A failed track's `error` is written for the people who can read it (anyone who can see the
track): no server path, no memory address, no raw FFmpeg or libsndfile output. The detail goes
to the log, with the job and the track it belongs to."""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import require_tool
from tests.support.accounts import bearer, fast_settings, register
from tests.support.server import RunningServer
from tests.support.tracks import elf_as_mp3, playlist_as_mp3, text_file, wait_for_track, write_music
from veza.config import Settings
from veza.nursery.jobs import Priority
from veza.store.tracks import NewTrack
from veza.tracks import TRANSCODE
from veza.tracks.reasons import public_reason


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(tmp_path)


def _m4a(tmp_path: Path, *, faststart: bool) -> Path:
    wav = write_music(tmp_path / "for-m4a.wav", 4)
    m4a = tmp_path / ("fast.m4a" if faststart else "plain.m4a")
    flags = ["-movflags", "+faststart"] if faststart else []
    command = [require_tool("ffmpeg"), "-v", "error", "-i", str(wav), "-c:a", "aac", *flags]
    subprocess.run([*command, str(m4a)], check=True)
    return m4a


def _cut_in_half(path: Path, name: str) -> Path:
    data = path.read_bytes()
    cut = path.with_name(name)
    cut.write_bytes(data[: len(data) // 2])
    return cut


def truncated_m4a(tmp_path: Path) -> Path:
    """An M4A whose index (the moov atom, written last) was cut off with the end of the file."""
    return _cut_in_half(_m4a(tmp_path, faststart=False), "truncated.m4a")


def truncated_faststart_m4a(tmp_path: Path) -> Path:
    """An M4A with its index first, cut in half: it opens, and decoding fails halfway."""
    return _cut_in_half(_m4a(tmp_path, faststart=True), "truncated-fast.m4a")


NOT_AUDIO = "not an audio file we can read"
# name: (make the file, the error people read, what the log's detail says)
CASES: dict[str, tuple[Callable[[Path], Path], str, str]] = {
    "truncated m4a": (
        truncated_m4a,
        "the file is damaged: its index is missing; it was probably cut short",
        "moov atom not found",
    ),
    "truncated faststart m4a": (
        truncated_faststart_m4a,
        "the file is damaged: it cannot be decoded past",
        "ffmpeg could not decode the source",
    ),
    # Refused by our format whitelist (FFmpeg 5.1), or already by the HLS demuxer (FFmpeg 9).
    "hls playlist as mp3": (
        playlist_as_mp3,
        NOT_AUDIO,
        "Format not on whitelist|Not detecting m3u8/hls",
    ),
    "text file": (text_file, NOT_AUDIO, "libsndfile: "),
    # Until libsndfile was told to judge by content alone, and FFmpeg's guesses on one point of
    # evidence were refused, this one became a "ready" track of 0.048 s.
    "elf binary as mp3": (elf_as_mp3, NOT_AUDIO, "too little evidence"),
}


async def place_unchecked(server: RunningServer, source: Path, owner_id: str) -> str:
    """Put `source` into the library as a track's original and queue its transcode, as ingest
    does but without the check it makes first: the files a library filled before uploads were
    checked still holds, which a re-transcode meets. Returns the track id."""
    track_id = secrets.token_hex(12)
    folder = server.services.tracks.media.track_dir(track_id)
    folder.mkdir(parents=True)
    original = folder / f"original{source.suffix}"
    shutil.copyfile(source, original)
    new = NewTrack(
        track_id, owner_id, source.stem, "", "", source.name, source.suffix, original.stat().st_size
    )
    async with server.store.transaction() as tx:
        await tx.tracks.create(new)
        await tx.jobs.enqueue(TRANSCODE, track_id, priority=Priority.INTERACTIVE)
    server.services.workers.wake()
    return track_id


def assert_for_people(error: str) -> None:
    assert "/" not in error
    assert "0x" not in error.lower()
    for raw in ("ffprobe", "ffmpeg", "libsndfile", "[mov", "@", "\n"):
        assert raw not in error.lower()


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
async def test_a_failed_track_tells_other_users_why_in_words_for_people(
    server: RunningServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    require_tool("ffmpeg")
    caplog.set_level(logging.INFO, logger="veza")
    make, expected, detail = CASES[case]
    alice = await register(server.client, "alice")
    bob = await register(server.client, "bob")
    track_id = await place_unchecked(server, make(tmp_path), alice["user"]["id"])
    await wait_for_track(server, track_id)

    response = await server.client.get(
        f"/api/v1/tracks/{track_id}", headers=bearer(bob["access_token"])
    )
    track = response.json()
    assert track["status"] == "failed"
    assert track["error"].startswith(expected), track["error"]
    assert_for_people(track["error"])

    job = await server.store.database.fetch_one(
        "SELECT id, error FROM jobs WHERE subject_id = ?", (track_id,)
    )
    assert job is not None
    logged = [
        record.getMessage()
        for record in caplog.records
        if record.name == "veza.nursery.jobs" and record.levelno == logging.WARNING
    ]
    failure = [line for line in logged if job["id"] in line and "failed" in line]
    assert len(failure) == 1, logged
    assert f"track {track_id}" in failure[0]
    assert track["error"] in failure[0] and re.search(detail, failure[0])
    # The job's own record, for the operator, keeps the detail too.
    assert re.search(detail, job["error"])


def test_the_stored_reason_has_no_path_or_address_whatever_a_raise_site_let_through() -> None:
    leaky = (
        "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55d0c3a1b2c0] moov atom not found\n"
        "file:/srv/veza/media/3fa4/original.m4a: Invalid data found when processing input; "
        "see '/srv/veza/uploads/.upload-x.tmp', ~/music/a.mp3, C:\\music\\a.mp3, "
        "media/3fa4/original.m4a, file:///tmp/a.wav and the decoder at 0xdeadbeef"
    )
    cleaned = public_reason(leaky)
    assert_for_people(cleaned)
    assert cleaned.startswith("moov atom not found; a file: Invalid data found")
    assert "srv" not in cleaned and "music" not in cleaned and "3fa4" not in cleaned
    assert "deadbeef" not in cleaned


def test_a_reason_for_people_goes_through_unchanged_and_a_long_one_is_cut() -> None:
    for reason in (
        "the file is damaged: it cannot be decoded past 1.5 s",
        "not an audio file we can read",
        "too many audio channels (72, at most 64)",
        "the transcode was interrupted too many times",
    ):
        assert public_reason(reason) == reason
    assert len(public_reason("x" * 5000)) <= 200
    assert public_reason("0x1234 /srv/x") == "a file"
    assert public_reason("   ") == "internal error"
