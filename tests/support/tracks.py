"""Tracks for tests: music-like audio files, and waiting for a track to settle."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import soundfile as sf
import trio

from tests.support.server import RunningServer
from veza.store.tracks import Track
from veza.tracks.events import TrackProgress, track_topic


def write_music(path: Path, seconds: float, rate: int = 44100) -> Path:
    """A few tones under a slow envelope plus a little noise: cheap to make, not trivial to code."""
    t = np.arange(int(seconds * rate)) / rate
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 0.25 * t)
    left = sum(0.15 * np.sin(2 * np.pi * f * t) for f in (220.0, 330.0, 440.0))
    right = sum(0.15 * np.sin(2 * np.pi * f * t) for f in (247.0, 370.0, 494.0))
    noise = np.random.default_rng(7).normal(0, 0.01, (t.size, 2))
    audio = np.stack([left * envelope, right * envelope], axis=1) + noise
    sf.write(path, audio.astype(np.float32), rate, subtype="PCM_16")
    return path


def write_damaged_flac(path: Path, seconds: float = 6) -> Path:
    """A FLAC whose header is sound and whose middle is noise: it passes the check at upload
    and fails its transcode partway (the damage a bad disk or a broken download leaves)."""
    write_music(path, seconds)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 3000] = np.random.default_rng(5).bytes(3000)
    path.write_bytes(bytes(data))
    return path


async def wait_for_track(server: RunningServer, track_id: str, limit_s: float = 60) -> Track:
    """The track once it is ready or failed. Waits for its outcome event, subscribed to before
    the store is read, so an outcome committed before the subscription is not missed either."""
    with trio.fail_after(limit_s):
        async with server.services.events.subscribe(track_topic(track_id)) as events:
            while (track := await server.services.tracks.get(track_id)).status == "processing":
                async for delivery in events:
                    if not isinstance(delivery.event, TrackProgress):
                        break  # ready or failed: committed before it was published
    return track


# Files that are not audio, each named like a song: what uploads and imports must refuse.


def playlist_as_mp3(tmp_path: Path) -> Path:
    source = write_music(tmp_path / "secret.wav", 1)
    path = tmp_path / "playlist.mp3"
    path.write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\nfile:{source}\n#EXT-X-ENDLIST\n"
    )
    return path


def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.mp3"
    path.write_text("these are my notes, not music\n" * 200)
    return path


def elf_as_mp3(tmp_path: Path) -> Path:
    path = tmp_path / "true.mp3"
    shutil.copyfile("/bin/true", path)
    return path
