"""Gapless playback: each rendition's encoder delay and padding, recorded with the track and
served in its JSON, trim the decoded rendition to exactly the track."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import trio

from tests.support import eventually, require_tool
from tests.support.accounts import bearer, fast_settings, register
from tests.support.server import RunningServer
from tests.support.signals import aligned, music
from veza.audio.ladder import Rendition
from veza.config import Settings
from veza.transcode import TranscodeOptions, transcode

RATE = 44100
SAMPLES_PER_FRAME = {"mp3": 1152, "aac": 1024}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(tmp_path)


async def decode(url: str) -> np.ndarray:
    """What FFmpeg decodes from a playlist (a file, or a URL of the server this test runs:
    hence a child the event loop waits for without blocking)."""
    done = await trio.run_process(
        [
            require_tool("ffmpeg"),
            "-v",
            "error",
            "-nostdin",
            "-i",
            url,
            "-f",
            "f32le",
            "-ac",
            "2",
            "-ar",
            str(RATE),
            "pipe:1",
        ],
        capture_stdout=True,
        capture_stderr=True,
    )
    return np.frombuffer(done.stdout, dtype="<f4").reshape(-1, 2)


def trimmed(decoded: np.ndarray, delay: int, padding: int) -> np.ndarray:
    return decoded[delay : len(decoded) - padding]


def assert_is_the_source(audio: np.ndarray, source: np.ndarray, codec: str) -> None:
    """The trimmed rendition lasts as long as the source (to within a frame) and starts with
    it (the best alignment is no shift at all)."""
    assert abs(len(audio) - len(source)) < SAMPLES_PER_FRAME[codec]
    lag, quality = aligned(source, audio, max_lag=64)
    assert lag == 0 and quality > 12


@pytest.mark.slow
async def test_the_track_json_tells_how_to_play_each_rendition_gaplessly(
    server: RunningServer, tmp_path: Path
) -> None:
    require_tool("ffmpeg")
    signal = music(9.5)
    source = tmp_path / "Gapless.wav"
    sf.write(source, signal, RATE, subtype="FLOAT")
    token = (await register(server.client, "gapless"))["access_token"]
    with source.open("rb") as file:
        response = await server.client.post(
            "/api/v1/tracks", files={"file": ("Gapless.wav", file)}, headers=bearer(token)
        )
    assert response.status_code == 202, response.text
    track_id = response.json()["id"]
    track: dict[str, object] = {}

    async def ready() -> bool:
        got = await server.client.get(f"/api/v1/tracks/{track_id}", headers=bearer(token))
        track.update(got.json())
        return track["status"] != "processing"

    await eventually(ready, limit_s=60)
    assert track["status"] == "ready", track["error"]
    stream = await server.client.get(f"/api/v1/tracks/{track_id}/stream", headers=bearer(token))
    hls_url = stream.json()["hls_url"]
    renditions = track["renditions"]
    assert isinstance(renditions, list) and len(renditions) == 3
    for rendition in renditions:
        assert rendition["delay_samples"] == 1024  # FFmpeg's AAC priming frame
        assert 0 <= rendition["padding_samples"] < 1024
        url = hls_url.replace("master.m3u8", f"{rendition['name']}/index.m3u8")
        decoded = await decode(url)
        audio = trimmed(decoded, rendition["delay_samples"], rendition["padding_samples"])
        gain = 10 ** (track["loudness"]["gain_db"] / 20)  # type: ignore[index]
        assert_is_the_source(audio, signal * np.float32(gain), rendition["codec"])


@pytest.mark.slow
@pytest.mark.parametrize("encoder", ["ffmpeg", "lame"])
async def test_mp3_delay_and_padding_trim_to_the_track(tmp_path: Path, encoder: str) -> None:
    ffmpeg = require_tool("ffmpeg")
    signal = music(7.3)
    source = tmp_path / "in.wav"
    sf.write(source, signal, RATE, subtype="FLOAT")
    result = await transcode(
        source,
        tmp_path / "out",
        ladder=[Rendition("mp3_128", "mp3", 128), Rendition("aac_128", "aac", 128)],
        options=TranscodeOptions(ffmpeg=ffmpeg if encoder == "ffmpeg" else None),
        limiter=trio.CapacityLimiter(2),
    )
    gain = np.float32(10 ** (result.loudness.gain_db / 20))
    for rendition in result.renditions:
        if rendition.codec == "mp3":
            assert rendition.priming_samples == 576 + 529
        decoded = await decode(str(tmp_path / "out" / rendition.name / "index.m3u8"))
        audio = trimmed(decoded, rendition.priming_samples, rendition.padding_samples)
        assert_is_the_source(audio, signal * gain, rendition.codec)
        assert len(audio) == len(signal)
