"""ReplayGain-style levelling in the web client, heard through Web Audio: a track whose
renditions the server did not normalise (`loudness_apply_gain = false`) plays at its suggested
gain, and louder once the person turns levelling off on the account page; a normalised track
plays the same either way. The volume control stays where the person left it."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import trio

from tests.e2e.browser import client_page
from tests.e2e.recording import RECORD, STOP, samples
from tests.support.accounts import bearer, fast_settings, register
from tests.support.server import RunningServer
from tests.support.signals import sine
from tests.support.tracks import wait_for_track
from veza.config import Settings

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("chromium", "ffmpeg")]

RATE = 44100
TONE_DB = -6.0  # far above the -14 LUFS target: the gain is about -8 dB
MARK = "() => window.recording.chunks.length"
CHUNK = 4096  # frames per recorded chunk (RECORD's ScriptProcessorNode)


@pytest.fixture(params=[False, True], ids=["not-normalised", "normalised"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    return fast_settings(tmp_path, loudness_apply_gain=request.param)


def level_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(x.astype(np.float64) ** 2)))


async def test_levelling_applies_the_gain_only_to_tracks_not_normalised(
    server: RunningServer, tmp_path: Path
) -> None:
    body = await register(server.client, "ada")
    path = tmp_path / "tone.wav"
    tone = sine(441.0, 20, RATE, level_db=TONE_DB)
    await trio.to_thread.run_sync(partial(sf.write, path, tone, RATE, subtype="FLOAT"))
    imported = await server.services.tracks.import_file(path, owner_id=body["user"]["id"])
    assert (await wait_for_track(server, imported.id)).status == "ready"
    response = await server.client.get(
        f"/api/v1/tracks/{imported.id}", headers=bearer(body["access_token"])
    )
    track: dict[str, Any] = response.json()
    loudness = track["loudness"]
    normalised = server.settings.loudness_apply_gain
    assert loudness["normalised"] is normalised
    if not normalised:
        assert loudness["suggested_gain_db"] < -6

    async with client_page(f"{server.url}/signin") as client:
        await client.sign_in("ada")
        await client.until("() => window.vezaDebug && window.vezaDebug.player")
        assert await client.js(RECORD) == "running"
        await client.js("(track) => window.vezaDebug.player.playList([track], 0)", track)
        await client.until("() => window.vezaDebug.player.position() > 2.5")
        levelled_until = await client.js(MARK)

        # Levelling off, from the account page, while the track plays on.
        def turn_off(page: Any) -> None:
            page.get_by_role("link", name="ada").click()
            box = page.get_by_label("Even out the loudness of tracks the server did not level")
            assert box.is_checked()
            box.uncheck()

        await client.do(turn_off)
        plain_from = await client.js(MARK) + 2  # the next chunks: the change has taken effect
        await client.until(
            "(from) => window.recording.chunks.length > from + 30", plain_from, limit_s=20
        )
        recorded = samples(await client.js(STOP))
        assert await client.js("() => localStorage.getItem('veza.loudness')") == "off"
        assert await client.js("() => document.getElementById('volume').value") == "1"
        client.assert_clean()

    loud = np.flatnonzero(np.abs(recorded) > 0.01)
    assert loud.size, "nothing was recorded"
    levelled = recorded[loud[0] + RATE // 2 : levelled_until * CHUNK]
    plain = recorded[plain_from * CHUNK : (plain_from + 30) * CHUNK]
    assert len(levelled) > RATE and len(plain) > RATE
    change = level_db(levelled) - level_db(plain)
    print(f"levelled {level_db(levelled):.2f} dB, plain {level_db(plain):.2f} dB")
    if normalised:
        assert abs(change) < 0.5, f"a normalised track changed by {change:.2f} dB"
    else:
        assert abs(change - loudness["suggested_gain_db"]) < 0.5, (
            f"levelled by {change:.2f} dB, suggested {loudness['suggested_gain_db']} dB"
        )
