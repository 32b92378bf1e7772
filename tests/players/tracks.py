"""Tracks for the player tests: music-like audio imported for a listener, and its HLS URL."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import soundfile as sf
import trio

from tests.support.accounts import bearer, register
from tests.support.server import RunningServer
from tests.support.signals import music

RATE = 44100
PIECE_S = 30  # longer tracks repeat a piece this long: music() makes 600 s in about 25 s


@dataclass(frozen=True)
class Listener:
    user_id: str
    token: str


async def listener(server: RunningServer, username: str = "listener") -> Listener:
    body = await register(server.client, username)
    return Listener(body["user"]["id"], body["access_token"])


async def import_music(server: RunningServer, tmp_path: Path, who: Listener, seconds: float) -> str:
    """A music-like WAV of `seconds`, imported for `who` as a public track; its track id
    (transcode queued)."""
    path = tmp_path / f"music-{seconds:g}s.wav"
    piece = music(min(seconds, PIECE_S), RATE)
    frames = round(seconds * RATE)
    audio = np.tile(piece, (math.ceil(frames / len(piece)), 1))[:frames]
    await trio.to_thread.run_sync(partial(sf.write, path, audio, RATE, subtype="PCM_16"))
    # Public: other listeners (another user signed in to the web client) play it too.
    track = await server.services.tracks.import_file(
        path, owner_id=who.user_id, visibility="public"
    )
    return track.id


async def stream_url(server: RunningServer, who: Listener, track_id: str) -> str:
    """The signed URL of the track's master playlist, as a client gets it."""
    response = await server.client.get(
        f"/api/v1/tracks/{track_id}/stream", headers=bearer(who.token)
    )
    assert response.status_code == 200, response.text
    url: str = response.json()["hls_url"]
    return url
