"""What players read while and after a track is transcoded: playlists that only grow, masters
that never change, timestamps FFmpeg reads without a warning, bandwidths never exceeded."""

from __future__ import annotations

from pathlib import Path

import m3u8
import numpy as np
import pytest
import soundfile as sf
import trio

from tests.support import require_tool
from tests.support.signals import music
from tests.support.transcode import run_transcode as run
from veza.audio import adts, id3, mp3
from veza.audio.frames import FrameSplitter
from veza.audio.ladder import DEFAULT_LADDER, Rendition

RATE = 44100
SAMPLES_PER_FRAME = {"mp3": 1152, "aac": 1024}
AAC_128 = Rendition("aac_128", "aac", 128)
MP3_128 = Rendition("mp3_128", "mp3", 128)


def write(path: Path, signal: np.ndarray) -> Path:
    sf.write(path, signal, RATE, subtype="FLOAT")
    return path


@pytest.mark.slow
async def test_playlists_only_grow_and_masters_never_change_while_transcoding(
    tmp_path: Path,
) -> None:
    require_tool("ffmpeg")
    source = write(tmp_path / "in.wav", music(45.0))
    out = tmp_path / "out"
    media = ["aac_128/index.m3u8", "mp3_128/index.m3u8"]
    masters = ["master.m3u8", "master-mp3.m3u8"]
    versions: dict[str, list[str]] = {name: [] for name in media + masters}
    masters_seen_while_encoding: set[str] = set()

    def look() -> None:
        """Every file as it is now: written whole and renamed into place, so each read is one
        complete version."""
        for name, seen in versions.items():
            try:
                text = (out / name).read_text()
            except FileNotFoundError:
                continue
            if not seen or seen[-1] != text:
                seen.append(text)
                unfinished = any(v and "#EXT-X-ENDLIST" not in v[-1] for v in versions.values())
                if name in masters and len(seen) == 1 and unfinished:
                    masters_seen_while_encoding.add(name)

    async def watch() -> None:
        while True:
            await trio.to_thread.run_sync(look)
            await trio.sleep(0.002)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch)
        await run(source, out, (AAC_128, MP3_128))
        nursery.cancel_scope.cancel()
    look()

    for name in media:
        *growing, final = versions[name]
        assert len(growing) >= 3, f"{name}: only {len(growing)} versions seen before the last"
        assert final.endswith("#EXT-X-ENDLIST\n")
        for version in versions[name]:
            assert final.startswith(version), f"{name}: a version is not a prefix of the last"
            assert "#EXT-X-PLAYLIST-TYPE:EVENT\n" in version
            assert "#EXT-X-START:TIME-OFFSET=0\n" in version
        assert all("#EXT-X-ENDLIST" not in version for version in growing)
        parsed = m3u8.loads(final)
        assert parsed.playlist_type == "event" and parsed.is_endlist
        assert len(parsed.segments) == 8
    for name in masters:
        assert len(versions[name]) == 1, f"{name} was rewritten"
    # playable while encoding: the masters were there before any media playlist was finished
    assert masters_seen_while_encoding == set(masters)


@pytest.mark.slow
async def test_ffmpeg_reads_every_rendition_without_a_timestamp_warning(tmp_path: Path) -> None:
    ffmpeg = require_tool("ffmpeg")
    source = write(tmp_path / "in.wav", music(60.0))
    ladder = (Rendition("mp3_320", "mp3", 320), MP3_128, *DEFAULT_LADDER)
    runs = [
        (tmp_path / "ffmpeg", await run(source, tmp_path / "ffmpeg", ladder)),
        # libsndfile's LAME, the encoder used without FFmpeg
        (tmp_path / "lame", await run(source, tmp_path / "lame", (MP3_128,), ffmpeg=None)),
    ]
    for out, result in runs:
        for rendition in result.renditions:
            playlist = str(out / rendition.name / "index.m3u8")
            done = await trio.run_process(
                [
                    ffmpeg,
                    "-hide_banner",
                    "-nostdin",
                    "-v",
                    "warning",
                    "-i",
                    playlist,
                    "-f",
                    "null",
                    "-",
                ],
                capture_stdout=True,
                capture_stderr=True,
            )
            warnings = done.stderr.decode()
            assert warnings == "", f"{out.name}/{rendition.name}: {warnings}"


def measured_peak(out: Path, rendition: str, codec: str, target: int) -> float:
    """RFC 8216 §4.3.4.2's peak segment bit rate, from the segment files themselves: the
    largest rate of any run of segments lasting 0.5 to 1.5 target durations (the whole
    playlist when it is shorter)."""
    parse = mp3.parse_header if codec == "mp3" else adts.parse_header
    playlist = m3u8.load(str(out / rendition / "index.m3u8"))
    sizes, durations = [], []
    for segment in playlist.segments:
        data = (out / rendition / segment.uri).read_bytes()
        splitter = FrameSplitter(parse)
        frames = splitter.feed(data[id3.tag_length(data) or 0 :]) + splitter.finish()
        sizes.append(8 * len(data))
        durations.append(len(frames) * SAMPLES_PER_FRAME[codec] / RATE)
    rates = [
        sum(sizes[i:j]) / sum(durations[i:j])
        for i in range(len(sizes))
        for j in range(i + 1, len(sizes) + 1)
        if 0.5 * target <= sum(durations[i:j]) <= 1.5 * target
    ]
    return max(rates, default=sum(sizes) / sum(durations))


def bursts(seconds: float, per_second: int, burst_ms: float, level: float) -> np.ndarray:
    """Noise bursts over digital silence: what FFmpeg's AAC encoder overshoots its rate on
    most (it saves bits in the silence and spends them on the next burst)."""
    rng = np.random.default_rng(5)
    out = np.zeros((round(seconds * RATE), 2), np.float32)
    length = round(burst_ms * RATE / 1000)
    for start in range(0, len(out), RATE // per_second):
        out[start : start + length] = level * rng.standard_normal((len(out[start:][:length]), 2))
    return out


SIGNALS = {
    "music": lambda: music(20.0),
    "noise": lambda: 0.25 * np.random.default_rng(1).standard_normal((20 * RATE, 2)),
    "bursts": lambda: bursts(20.0, 10, 40.0, 0.4),
    "clicks": lambda: bursts(20.0, 25, 10.0, 0.6),
    "silence": lambda: np.zeros((8 * RATE, 2)),
    "one second": lambda: music(1.0),
}


@pytest.mark.slow
@pytest.mark.parametrize("signal", sorted(SIGNALS))
async def test_the_declared_bandwidth_is_never_exceeded(tmp_path: Path, signal: str) -> None:
    require_tool("ffmpeg")
    source = write(tmp_path / "in.wav", SIGNALS[signal]().astype(np.float32))
    out = tmp_path / "out"
    ladder = (*DEFAULT_LADDER, MP3_128)
    result = await run(source, out, ladder)
    declared = {
        variant.uri.split("/")[0]: variant.stream_info.bandwidth
        for name in ("master.m3u8", "master-mp3.m3u8")
        for variant in m3u8.load(str(out / name)).playlists
    }
    assert set(declared) == {r.name for r in ladder}
    for rendition in result.renditions:
        peak = measured_peak(out, rendition.name, rendition.codec, 6)
        assert peak <= declared[rendition.name], (rendition.name, peak, declared[rendition.name])
        assert rendition.peak_bandwidth == pytest.approx(peak, abs=1)
