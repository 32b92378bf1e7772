"""The track JSON's loudness: whether the renditions were normalised and the gain a player
should add, with `loudness_apply_gain` on and off (one server each)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import soundfile as sf
import trio

from tests.support.accounts import bearer, fast_settings, register
from tests.support.server import RunningServer
from tests.support.signals import sine
from tests.support.tracks import wait_for_track
from veza.config import Settings

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ffmpeg")]

TONE_DB = -6.0  # a sine's peak; its loudness is about the same, far above the -14 LUFS target


@pytest.fixture
def ffmpeg() -> None:
    from tests.support import require_tool

    require_tool("ffmpeg")


@pytest.fixture(params=[True, False], ids=["normalised", "not-normalised"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    return fast_settings(tmp_path, loudness_apply_gain=request.param)


async def test_the_track_says_what_gain_a_player_adds(
    server: RunningServer, tmp_path: Path
) -> None:
    body = await register(server.client, "ada")
    path = tmp_path / "tone.wav"
    tone = sine(997.0, 3, 44100, level_db=TONE_DB)
    await trio.to_thread.run_sync(partial(sf.write, path, tone, 44100, subtype="FLOAT"))
    track = await server.services.tracks.import_file(path, owner_id=body["user"]["id"])
    assert (await wait_for_track(server, track.id)).status == "ready"
    response = await server.client.get(
        f"/api/v1/tracks/{track.id}", headers=bearer(body["access_token"])
    )
    loudness = response.json()["loudness"]
    # The track gain: -14 LUFS minus the tone's loudness (the peak ceiling allows more).
    expected = -14.0 - loudness["integrated_lufs"]
    assert abs(loudness["integrated_lufs"] - TONE_DB) < 0.5
    assert abs(loudness["true_peak_dbtp"] - TONE_DB) < 0.2
    if server.settings.loudness_apply_gain:
        assert loudness["normalised"] is True
        assert abs(loudness["gain_db"] - expected) < 0.01
        assert loudness["suggested_gain_db"] == 0.0
    else:
        assert loudness["normalised"] is False
        assert loudness["gain_db"] == 0.0
        assert abs(loudness["suggested_gain_db"] - expected) < 0.01


async def test_a_quiet_track_is_lifted_only_as_far_as_the_peak_ceiling(
    server: RunningServer, tmp_path: Path
) -> None:
    # A quiet tone (-30 dB) with a few clicks peaking at -3 dBFS: the target asks for about
    # +16 dB, the ceiling of -1 dBTP leaves room for about +2.
    body = await register(server.client, "ada")
    path = tmp_path / "clicks.wav"
    audio = sine(997.0, 4, 44100, level_db=-30.0)
    audio[::44100] = 10 ** (-3.0 / 20)
    await trio.to_thread.run_sync(partial(sf.write, path, audio, 44100, subtype="FLOAT"))
    track = await server.services.tracks.import_file(path, owner_id=body["user"]["id"])
    assert (await wait_for_track(server, track.id)).status == "ready"
    response = await server.client.get(
        f"/api/v1/tracks/{track.id}", headers=bearer(body["access_token"])
    )
    loudness = response.json()["loudness"]
    headroom = -1.0 - loudness["true_peak_dbtp"]
    assert -14.0 - loudness["integrated_lufs"] > headroom  # the target alone would clip
    gain = loudness["gain_db"] if loudness["normalised"] else loudness["suggested_gain_db"]
    assert abs(gain - headroom) < 0.01
