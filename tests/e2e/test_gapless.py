"""Gapless playback in the web client: two tracks cut from one continuous tone, played one after
the other, recorded from the audio element through Web Audio, show no silence and no change of
level across the join (the encoder delay and padding trimmed by the append window)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import trio

from tests.e2e.browser import client_page
from tests.e2e.recording import RECORD, STOP, samples
from tests.support.accounts import bearer, register
from tests.support.server import RunningServer
from tests.support.tracks import wait_for_track

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("chromium", "ffmpeg")]

RATE = 44100
FREQUENCY = 441.0  # a period of exactly 100 samples: a window of whole periods has a steady RMS
CUT_S = 6.3  # not a whole number of AAC frames (1024 samples): the padding must be trimmed
TOTAL_S = 10.0
START_S = 4.5  # play the first track from here: 1.8 s before the join
SILENCE_LIMIT = round(0.005 * RATE)  # 5 ms
LEVEL_WINDOW = 2200  # 22 periods, 50 ms: a level, not one period's codec ringing
PHASE_WINDOW = 400  # 4 periods
PHASE_LIMIT = 0.3  # radians: 5 samples of the 100-sample period


async def write_halves(tmp_path: Path) -> tuple[Path, Path]:
    t = np.arange(round(TOTAL_S * RATE)) / RATE
    mono = 0.25 * np.sin(2 * np.pi * FREQUENCY * t)
    stereo = np.stack([mono, mono], axis=1).astype(np.float32)
    cut = round(CUT_S * RATE)
    first, second = tmp_path / "tone part 1.wav", tmp_path / "tone part 2.wav"
    await trio.to_thread.run_sync(partial(sf.write, first, stereo[:cut], RATE, subtype="FLOAT"))
    await trio.to_thread.run_sync(partial(sf.write, second, stereo[cut:], RATE, subtype="FLOAT"))
    return first, second


def phases(samples: np.ndarray) -> np.ndarray:
    """The tone's phase (radians) in each window, by least squares against a sine and a
    cosine of the known frequency on the recording's own sample clock. One continuous tone has
    one phase throughout; a sample lost or added at the join moves it by 2 pi / 100."""
    count = len(samples) // PHASE_WINDOW
    t = np.arange(count * PHASE_WINDOW).reshape(count, PHASE_WINDOW)
    x = samples[: count * PHASE_WINDOW].reshape(count, PHASE_WINDOW).astype(np.float64)
    angle = 2 * np.pi * FREQUENCY / RATE * t
    cos_part = np.sum(x * np.cos(angle), axis=1)
    sin_part = np.sum(x * np.sin(angle), axis=1)
    return np.arctan2(cos_part, sin_part)


def longest_silence(samples: np.ndarray) -> int:
    quiet = np.abs(samples) < 1e-3
    longest = run = 0
    for is_quiet in quiet:
        run = run + 1 if is_quiet else 0
        longest = max(longest, run)
    return longest


async def test_two_halves_of_one_tone_join_without_a_gap(
    server: RunningServer, tmp_path: Path
) -> None:
    body = await register(server.client, "ravel")
    owner = body["user"]["id"]
    tracks = []
    for path in await write_halves(tmp_path):
        track = await server.services.tracks.import_file(path, owner_id=owner)
        assert (await wait_for_track(server, track.id)).status == "ready"
        response = await server.client.get(
            f"/api/v1/tracks/{track.id}", headers=bearer(body["access_token"])
        )
        tracks.append(response.json())
    assert tracks[0]["renditions"][0]["delay_samples"] == 1024

    async with client_page(server.url + "/") as client:
        await client.do(lambda page: page.get_by_role("link", name="Sign in").first.click())
        await client.sign_in("ravel")
        await client.until("() => window.vezaDebug && window.vezaDebug.player")
        assert await client.js(RECORD) == "running"
        await client.js(
            "([tracks, start]) => window.vezaDebug.player.playList(tracks, 0, start)",
            [tracks, START_S],
        )
        await client.until(
            "() => window.vezaDebug.player.index === 1 && window.vezaDebug.player.position() > 1.5"
        )
        recorded = samples(await client.js(STOP))
        client.assert_clean()

    # What played: from the first sound to the last (before: nothing yet; after: stopped).
    loud = np.flatnonzero(np.abs(recorded) > 0.05)
    assert loud.size, "nothing was recorded"
    played = recorded[loud[0] : loud[-1] + 1]
    assert len(played) > 3 * RATE, len(played) / RATE  # 1.8 s of one, 1.5 s of the other
    print("silence", longest_silence(played), "samples")
    assert longest_silence(played) < SILENCE_LIMIT
    body_ = played[RATE // 20 : -RATE // 20]  # leave out the fade of starting and stopping
    windows = body_[: len(body_) // LEVEL_WINDOW * LEVEL_WINDOW].reshape(-1, LEVEL_WINDOW)
    rms_db = 20 * np.log10(np.sqrt(np.mean(windows.astype(np.float64) ** 2, axis=1)))
    level = float(np.max(np.abs(rms_db - np.median(rms_db))))
    assert level < 1.0, f"the level moves by {level:.2f} dB"
    phase = phases(body_)
    drift = np.angle(np.exp(1j * (phase - phase[0])))  # wrapped to (-pi, pi]
    worst = float(np.max(np.abs(drift)))
    assert worst < PHASE_LIMIT, f"the tone's phase jumps by {worst:.2f} rad: samples lost or added"
