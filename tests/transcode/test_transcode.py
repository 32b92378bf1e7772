"""transcode() end to end: real files in tmp_path, real FFmpeg children, decoded and compared."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import m3u8
import numpy as np
import pytest
import soundfile as sf
import trio

from tests.support import require_tool
from tests.support.process import live_children
from tests.support.signals import aligned, fitted_gain, music
from tests.support.transcode import run_transcode as run
from veza.audio import adts, id3, mp3
from veza.audio.frames import FrameSplitter
from veza.audio.ladder import DEFAULT_LADDER, Rendition
from veza.audio.loudness import LoudnessMeter
from veza.transcode import TranscodeError, TranscodeOptions, TranscodeResult, probe, transcode

RATE = 44100
SAMPLES_PER_FRAME = {"mp3": 1152, "aac": 1024}


def write(path: Path, signal: np.ndarray, rate: int = RATE, **kwargs: object) -> Path:
    sf.write(path, signal, rate, **kwargs)  # type: ignore[arg-type]
    return path


def decode(path: Path, *extra: str) -> np.ndarray:
    """Decode anything FFmpeg opens (a playlist included) to float32 stereo at 44.1 kHz."""
    ffmpeg = require_tool("ffmpeg")
    done = subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-nostdin",
            *extra,
            "-i",
            str(path),
            "-map",
            "0:a:0",
            "-f",
            "f32le",
            "-ac",
            "2",
            "-ar",
            str(RATE),
            "pipe:1",
        ],
        capture_output=True,
        check=True,
    )
    return np.frombuffer(done.stdout, dtype="<f4").reshape(-1, 2)


def segment_files(out: Path, rendition: str) -> list[Path]:
    files = [p for p in (out / rendition).iterdir() if p.suffix in (".mp3", ".aac")]
    return sorted(files, key=lambda p: int(p.stem))


def payload(segment: bytes) -> bytes:
    """A segment without its ID3 tag: the coded frames."""
    size = id3.tag_length(segment)
    assert size is not None, "every segment starts with an ID3 tag"
    return segment[size:]


def check_rendition(
    out: Path, result: TranscodeResult, name: str, source: np.ndarray, *, min_snr: float
) -> np.ndarray:
    """Playlist, segments and decoded audio of one rendition; returns the decoded audio."""
    info = next(r for r in result.renditions if r.name == name)
    per_frame = SAMPLES_PER_FRAME[info.codec]
    playlist = m3u8.load(str(out / name / "index.m3u8"))
    # an EVENT playlist that was only ever appended to, finished with ENDLIST
    assert playlist.playlist_type == "event" and playlist.is_endlist
    assert playlist.start is not None and playlist.start.time_offset == 0
    assert playlist.target_duration == 6 and playlist.is_independent_segments
    files = segment_files(out, name)
    assert [s.uri for s in playlist.segments] == [p.name for p in files]
    assert len(files) == info.segment_count
    parse = mp3.parse_header if info.codec == "mp3" else adts.parse_header
    position = 0
    for segment, path in zip(playlist.segments, files, strict=True):
        data = path.read_bytes()
        # the PRIV timestamp is the running sample count on the 90 kHz clock
        assert id3.read_priv_timestamp(data) == round(position * 90000 / RATE)
        splitter = FrameSplitter(parse)
        frames = splitter.feed(payload(data)) + splitter.finish()
        assert splitter.skipped_bytes == 0, "a segment holds whole frames only"
        samples = len(frames) * per_frame
        assert segment.duration == samples / RATE  # exact EXTINF
        assert segment.duration < 6.5  # rounds to the target duration
        position += samples
    assert position == info.samples

    decoded = decode(out / name / "index.m3u8")
    # the duration: all the source, after the priming, within one frame
    extra = len(decoded) - info.priming_samples - len(source)
    assert 0 <= extra < per_frame, (name, extra)
    assert extra == info.padding_samples
    # the signal: aligned at the declared priming, close to the source
    lag, quality = aligned(source, decoded)
    assert lag == info.priming_samples
    assert quality > min_snr, (name, quality)
    # no gap at the joins: the playlist decodes exactly like the uncut stream
    whole = out / f"{name}.whole.{info.extension}"
    whole.write_bytes(b"".join(payload(p.read_bytes()) for p in files))
    assert np.array_equal(decode(whole), decoded)
    whole.unlink()
    # and no click there: the error near a join is like the error anywhere else
    error = decoded[lag : lag + len(source), 0] - source[:, 0] * fitted_gain(source, decoded[lag:])
    windows = np.sqrt(np.mean(error[: len(error) // 1024 * 1024].reshape(-1, 1024) ** 2, axis=1))
    typical = float(np.median(windows))
    joins = np.cumsum(info.segment_samples)[:-1] - lag
    for join in joins:
        window = int(join) // 1024
        assert windows[max(0, window - 1) : window + 2].max() < 4 * typical + 1e-4, (name, join)
    return decoded


@pytest.mark.slow
async def test_default_ladder_end_to_end(tmp_path: Path) -> None:
    require_tool("ffmpeg")
    signal = music(14.0)
    source = write(tmp_path / "in.flac", signal, subtype="PCM_24")
    out = tmp_path / "out"
    progress: list[float] = []

    async def on_progress(value: float) -> None:
        progress.append(value)

    result = await transcode(source, out, limiter=trio.CapacityLimiter(2), on_progress=on_progress)
    assert result.frames == len(signal) and result.duration_s == pytest.approx(14.0)
    assert result.decoder == "soundfile" and result.notices == ()
    assert [r.name for r in result.renditions] == ["aac_256", "aac_128", "aac_64"]
    assert progress == sorted(progress) and progress[-1] == 1.0 and len(progress) > 5

    gain = 10 ** (result.loudness.gain_db / 20)
    for name, min_snr in (("aac_256", 25.0), ("aac_128", 22.0), ("aac_64", 15.0)):
        decoded = check_rendition(out, result, name, signal * np.float32(gain), min_snr=min_snr)
        if name == "aac_256":
            meter = LoudnessMeter(RATE)
            meter.feed(decoded)
            assert meter.integrated() == pytest.approx(-14.0, abs=0.3)  # the target, reached

    loudness = result.loudness
    assert loudness.integrated_lufs is not None and loudness.true_peak_dbtp is not None
    assert loudness.gain_db == pytest.approx(-14.0 - loudness.integrated_lufs)
    assert loudness.true_peak_dbtp + loudness.gain_db <= -1.0

    master = m3u8.load(str(out / "master.m3u8"))
    variants = {p.uri: p.stream_info for p in master.playlists}
    assert list(variants) == [f"{r}/index.m3u8" for r in ("aac_256", "aac_128", "aac_64")]
    assert not (out / "master-mp3.m3u8").exists()  # no MP3 in the ladder, no MP3 master
    for r in result.renditions:
        info = variants[f"{r.name}/index.m3u8"]
        assert info.codecs == r.hls_codec == "mp4a.40.2"
        assert info.bandwidth >= r.peak_bandwidth  # declared up front, never exceeded
        assert abs(r.average_bandwidth - 1000 * r.bitrate_kbps) < 0.06 * 1000 * r.bitrate_kbps
        assert abs(info.average_bandwidth - r.average_bandwidth) < 0.06 * r.average_bandwidth
    # FFmpeg's HLS demuxer plays the master playlist from the folder
    assert len(decode(out / "master.m3u8")) == result.renditions[0].samples

    waveform = (out / "waveform.json").read_text()
    assert '"peaks":[[' in waveform and '"seconds":[[' in waveform
    assert not list(out.rglob("*.tmp"))


@pytest.mark.parametrize(
    ("name", "seconds", "rate", "channels", "kwargs"),
    [
        ("mono-u8.wav", 1.5, 22050, 1, {"subtype": "PCM_U8"}),
        ("stereo-24.flac", 2.0, 48000, 2, {"subtype": "PCM_24"}),
        ("surround-float.wav", 1.5, 96000, 6, {"subtype": "FLOAT"}),
        ("short.wav", 0.5, 44100, 2, {"subtype": "PCM_16"}),
        ("stereo.aiff", 1.0, 44100, 2, {"subtype": "PCM_16"}),
        ("vorbis.ogg", 2.0, 48000, 2, {"subtype": "VORBIS"}),
        ("lame.mp3", 2.0, 44100, 2, {"format": "MP3"}),
    ],
)
@pytest.mark.slow
async def test_sources_of_every_shape(
    tmp_path: Path, name: str, seconds: float, rate: int, channels: int, kwargs: dict[str, object]
) -> None:
    require_tool("ffmpeg")
    source = write(tmp_path / name, music(seconds, rate, channels=channels) * 0.8, rate, **kwargs)
    out = tmp_path / "out"
    result = await run(source, out)
    assert result.source_sample_rate == rate and result.source_channels == channels
    assert result.decoder == "soundfile"
    if not name.endswith(".mp3"):  # libsndfile's MP3 reader adds the encoder's delay
        assert abs(result.frames - round(seconds * RATE)) <= 2
    for rendition in result.renditions:
        decoded = decode(out / rendition.name / "index.m3u8")
        extra = len(decoded) - rendition.priming_samples - result.frames
        assert 0 <= extra < SAMPLES_PER_FRAME[rendition.codec]
        assert np.max(np.abs(decoded)) > 0.05


@pytest.mark.slow
async def test_what_libsndfile_cannot_read_is_decoded_by_ffmpeg(tmp_path: Path) -> None:
    ffmpeg = require_tool("ffmpeg")
    signal = music(3.0, 48000)
    wav = write(tmp_path / "in.wav", signal, 48000)
    m4a = tmp_path / "in.m4a"
    await trio.run_process(
        [ffmpeg, "-v", "error", "-i", str(wav), "-c:a", "aac", "-b:a", "192k", str(m4a)]
    )
    result = await run(m4a, tmp_path / "out")
    assert result.decoder == "ffmpeg" and result.source_sample_rate == 48000
    assert result.duration_s == pytest.approx(3.0, abs=0.03)
    decoded = decode(tmp_path / "out" / "aac_256" / "index.m3u8")
    _, quality = aligned(music(3.0, RATE), decoded, max_lag=4096)
    assert quality > 15  # AAC then AAC: two lossy generations

    with pytest.raises(TranscodeError, match="FFmpeg is not available"):
        await run(m4a, tmp_path / "out2", ffmpeg=None)


def master_codecs(path: Path) -> list[tuple[str, str]]:
    return [(p.uri, p.stream_info.codecs) for p in m3u8.load(str(path)).playlists]


@pytest.mark.slow
async def test_each_master_playlist_lists_one_codec_family(tmp_path: Path) -> None:
    require_tool("ffmpeg")
    signal = music(7.0)
    out = tmp_path / "out"
    result = await run(write(tmp_path / "in.wav", signal), out, ladder=MIXED_LADDER)
    assert [r.name for r in result.renditions] == ["mp3_320", "aac_128", "mp3_128"]
    assert master_codecs(out / "master.m3u8") == [("aac_128/index.m3u8", "mp4a.40.2")]
    assert master_codecs(out / "master-mp3.m3u8") == [
        ("mp3_320/index.m3u8", "mp4a.40.34"),
        ("mp3_128/index.m3u8", "mp4a.40.34"),
    ]
    gain = np.float32(10 ** (result.loudness.gain_db / 20))
    check_rendition(out, result, "mp3_320", signal * gain, min_snr=30.0)
    check_rendition(out, result, "aac_128", signal * gain, min_snr=22.0)
    # FFmpeg plays each master; the MP3 one starts on its first (highest) variant
    assert len(decode(out / "master-mp3.m3u8")) == result.renditions[0].samples


AAC_128 = Rendition("aac_128", "aac", 128)
MIXED_LADDER = (
    Rendition("mp3_320", "mp3", 320),
    Rendition("aac_128", "aac", 128),
    Rendition("mp3_128", "mp3", 128),
)


def piped_flac(tmp_path: Path, signal: np.ndarray) -> Path:
    """A FLAC as `ffmpeg ... -f flac -` writes it to a pipe: valid, but FFmpeg cannot seek back
    to put the sample count into STREAMINFO."""
    wav = write(tmp_path / "for-flac.wav", signal)
    flac = tmp_path / "piped.flac"
    with flac.open("wb") as sink:
        subprocess.run(
            [require_tool("ffmpeg"), "-v", "error", "-i", str(wav), "-f", "flac", "-"],
            stdout=sink,
            check=True,
        )
    return flac


@pytest.mark.slow
async def test_a_flac_without_a_sample_count_is_decoded_by_ffmpeg(tmp_path: Path) -> None:
    signal = music(5.0)
    source = piped_flac(tmp_path, signal)
    assert sf.info(str(source)).frames >= 1 << 62  # libsndfile: "length unknown"
    # the probe (also the check at upload) hands it to FFmpeg at once
    info = await probe(source, TranscodeOptions(), trio.CapacityLimiter(1))
    assert info.decoder == "ffmpeg"
    out = tmp_path / "out"
    result = await run(source, out, ladder=[AAC_128])
    assert result.decoder == "ffmpeg" and result.frames == len(signal)
    gain = np.float32(10 ** (result.loudness.gain_db / 20))
    check_rendition(out, result, "aac_128", signal * gain, min_snr=22.0)

    with pytest.raises(TranscodeError, match="FFmpeg is not available"):
        await run(source, tmp_path / "out2", ladder=[MIXED_LADDER[0]], ffmpeg=None)


def flipped_flac(tmp_path: Path, signal: np.ndarray, *, cut: bool = False) -> Path:
    """A FLAC with one bit of its audio flipped a third of the way in (libFLAC's checksum
    fails, and libsndfile with it; FFmpeg decodes on), cut at a frame boundary if asked."""
    data = bytearray(write(tmp_path / "whole.flac", signal, subtype="PCM_16").read_bytes())
    data[len(data) // 3] ^= 0x10
    if cut:  # at the sync code of a frame two thirds of the way in
        data = data[: data.index(b"\xff\xf8", len(data) * 2 // 3)]
    path = tmp_path / "flipped.flac"
    path.write_bytes(data)
    with pytest.raises(sf.LibsndfileError), sf.SoundFile(str(path)) as file:
        while len(file.read(1 << 16)):
            pass
    return path


@pytest.mark.slow
async def test_a_file_libsndfile_fails_to_decode_is_decoded_by_ffmpeg(tmp_path: Path) -> None:
    require_tool("ffmpeg")
    signal = music(3.0)
    result = await run(flipped_flac(tmp_path, signal), tmp_path / "out", ladder=[AAC_128])
    assert result.decoder == "ffmpeg" and result.frames == len(signal)
    decoded = decode(tmp_path / "out" / "aac_128" / "index.m3u8")
    assert len(decoded) - result.renditions[0].priming_samples - len(signal) < 1024
    # cut short as well: the sample count libsndfile read in the header tells
    with pytest.raises(TranscodeError, match="damaged: it is truncated"):
        await run(flipped_flac(tmp_path, signal, cut=True), tmp_path / "out2", ladder=[AAC_128])


@pytest.mark.slow
async def test_without_ffmpeg_mp3_uses_libsndfile_and_aac_is_skipped(tmp_path: Path) -> None:
    require_tool("ffmpeg")  # to check the output; the transcode itself does not use it
    signal = music(7.0)
    source = write(tmp_path / "in.wav", signal)
    out = tmp_path / "out"
    result = await run(source, out, ladder=MIXED_LADDER, ffmpeg=None)
    assert [r.name for r in result.renditions] == ["mp3_320", "mp3_128"]
    assert len(result.notices) == 1 and "aac_128" in result.notices[0]
    assert not (out / "aac_128").exists()
    gain = np.float32(10 ** (result.loudness.gain_db / 20))
    check_rendition(out, result, "mp3_320", signal * gain, min_snr=30.0)
    check_rendition(out, result, "mp3_128", signal * gain, min_snr=22.0)
    # without AAC there is only the MP3 master
    assert not (out / "master.m3u8").exists()
    assert [uri for uri, _ in master_codecs(out / "master-mp3.m3u8")] == [
        "mp3_320/index.m3u8",
        "mp3_128/index.m3u8",
    ]


@pytest.mark.slow
async def test_without_ffmpeg_an_aac_ladder_is_encoded_as_mp3(tmp_path: Path) -> None:
    require_tool("ffmpeg")  # to check the output
    signal = music(4.0)
    out = tmp_path / "out"
    result = await run(write(tmp_path / "in.wav", signal), out, ffmpeg=None)
    assert [(r.name, r.codec) for r in result.renditions] == [
        ("mp3_256", "mp3"),
        ("mp3_128", "mp3"),
        ("mp3_64", "mp3"),
    ]
    assert len(result.notices) == 3 and "aac_256 encoded as mp3_256" in result.notices[0]
    assert not (out / "master.m3u8").exists()
    assert len(master_codecs(out / "master-mp3.m3u8")) == 3
    gain = np.float32(10 ** (result.loudness.gain_db / 20))
    check_rendition(out, result, "mp3_64", signal * gain, min_snr=12.0)


async def test_gain_can_be_measured_without_being_applied(tmp_path: Path) -> None:
    require_tool("ffmpeg")
    signal = music(3.0) * np.float32(0.25)
    source = write(tmp_path / "in.wav", signal, subtype="FLOAT")
    ladder = [Rendition("mp3_320", "mp3", 320)]
    result = await run(source, tmp_path / "out", ladder=ladder, apply_gain=False)
    assert result.loudness.gain_db == 0.0
    assert result.loudness.suggested_gain_db > 3.0  # a quiet track would have been raised
    decoded = decode(tmp_path / "out" / "mp3_320" / "index.m3u8")
    lag = result.renditions[0].priming_samples
    assert fitted_gain(signal, decoded[lag:]) == pytest.approx(1.0, abs=0.02)


async def test_digital_silence_is_encoded_without_gain(tmp_path: Path) -> None:
    require_tool("ffmpeg")
    source = write(tmp_path / "silence.wav", np.zeros((2 * RATE, 2), np.float32))
    result = await run(source, tmp_path / "out", ladder=[DEFAULT_LADDER[1]])
    assert result.loudness.integrated_lufs is None and result.loudness.true_peak_dbtp is None
    assert result.loudness.gain_db == 0.0
    decoded = decode(tmp_path / "out" / "aac_128" / "index.m3u8")
    assert len(decoded) == result.renditions[0].samples and np.max(np.abs(decoded)) < 1e-4


def _flac(tmp_path: Path) -> bytes:
    return write(tmp_path / "good.flac", music(3.0), subtype="PCM_16").read_bytes()


def _wav(tmp_path: Path) -> bytes:
    return write(tmp_path / "good.wav", music(2.0), subtype="PCM_16").read_bytes()


def _damaged(data: bytes, size: int = 3000) -> bytes:
    middle = len(data) // 2
    return data[:middle] + np.random.default_rng(5).bytes(size) + data[middle + size :]


def _m4a(tmp_path: Path) -> bytes:
    wav = write(tmp_path / "for-m4a.wav", music(3.0))
    m4a = tmp_path / "good.m4a"
    subprocess.run(
        [require_tool("ffmpeg"), "-v", "error", "-i", str(wav), "-c:a", "aac", str(m4a)], check=True
    )
    return m4a.read_bytes()


BAD_INPUTS = {
    "corrupt.flac": (lambda tmp: _damaged(_flac(tmp)), "damaged: it cannot be decoded"),
    "corrupt.m4a": (lambda tmp: _damaged(_m4a(tmp)), "could not decode the source"),
    "empty.wav": (lambda tmp: b"", "empty"),
    "notes.mp3": (lambda tmp: b"this is not audio at all\n" * 200, "not an audio file we can"),
    "random.flac": (lambda tmp: np.random.default_rng(1).bytes(50_000), "not an audio file we"),
    "truncated.wav": (lambda tmp: _wav(tmp)[: 44 + 40_000], "truncated"),
    "truncated.flac": (lambda tmp: _flac(tmp)[: len(_flac(tmp)) // 2], "damaged: it "),
    "huge-fmt.wav": (
        lambda tmp: (
            b"RIFF"
            + (0xFFFFFFF0).to_bytes(4, "little")
            + b"WAVEfmt "
            + (0xFFFFFF00).to_bytes(4, "little")
            + b"\x01\x00" * 20
        ),
        "looks like a WAV file but cannot be read",
    ),
    # an HLS playlist posing as a song must not make FFmpeg read other local files
    "playlist.mp3": (
        lambda tmp: (
            f"#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\n"
            f"file:{_wav(tmp) and tmp / 'good.wav'}\n#EXT-X-ENDLIST\n".encode()
        ),
        # Refused by our whitelist (FFmpeg 5.1), or already by the HLS demuxer (FFmpeg 9).
        "Format not on whitelist|Not detecting m3u8/hls",
    ),
    "huge-id3.mp3": (
        lambda tmp: b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f" + b"\x00" * 5000,
        "looks like an MP3 file but cannot be read",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
async def test_bad_inputs_fail_with_a_reason(tmp_path: Path, name: str) -> None:
    require_tool("ffmpeg")
    make, reason = BAD_INPUTS[name]
    source = tmp_path / name
    source.write_bytes(make(tmp_path))
    with pytest.raises(TranscodeError, match=reason) as caught:
        await run(source, tmp_path / "out")
    assert len(caught.value.reason) > 10
    assert list((tmp_path / "out").rglob("*.tmp")) == []  # (none either when there is no out)


async def test_a_data_chunk_longer_than_the_file_is_read_as_far_as_it_goes(tmp_path: Path) -> None:
    # What recorders that stream WAV leave behind (size 0xFFFFFFFF): libsndfile, like players,
    # reads the samples that are there.
    require_tool("ffmpeg")
    wav = _wav(tmp_path)
    source = tmp_path / "streamed.wav"
    source.write_bytes(wav[:40] + (0xFFFFFFF0).to_bytes(4, "little") + wav[44 : 44 + 4 * RATE])
    result = await run(source, tmp_path / "out", ladder=[DEFAULT_LADDER[1]])
    assert result.frames == RATE


def _fake_ffmpeg(tmp_path: Path, body: str) -> str:
    script = tmp_path / "ffmpeg"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("echo \"Unknown encoder 'libmp3lame'\" >&2; exit 1", "Unknown encoder 'libmp3lame'"),
        (
            "head -c 300000 >/dev/null; echo 'Conversion failed!' >&2; exit 3",
            r"exit status 3\): Conversion failed!",
        ),
    ],
)
async def test_a_failing_encoder_child_is_an_error_with_its_stderr(
    tmp_path: Path, body: str, expected: str
) -> None:
    # A stand-in for a broken FFmpeg install (an external program, not our code).
    source = write(tmp_path / "in.wav", music(5.0))
    ffmpeg = _fake_ffmpeg(tmp_path, body)
    with pytest.raises(TranscodeError, match=expected):
        await run(source, tmp_path / "out", ffmpeg=ffmpeg)
    assert live_children() == []


@pytest.mark.slow
@pytest.mark.parametrize("cancel_at", [0.02, 0.4, 0.7])
async def test_cancelling_leaves_only_complete_files_and_no_children(
    tmp_path: Path, cancel_at: float
) -> None:
    require_tool("ffmpeg")
    source = write(tmp_path / "in.flac", music(40.0))
    out = tmp_path / "out"
    seen_event_playlist = False

    async def on_progress(value: float) -> None:
        nonlocal seen_event_playlist
        index = out / "aac_128" / "index.m3u8"
        if await trio.Path(index).exists():
            playlist = m3u8.loads(await trio.Path(index).read_text())
            if value < 1.0:
                assert playlist.playlist_type == "event" and not playlist.is_endlist
                seen_event_playlist = seen_event_playlist or bool(playlist.segments)
            for segment in playlist.segments:  # everything listed is there, whole
                assert await trio.Path(out / "aac_128" / segment.uri).exists()
        # past `cancel_at`, and (but for the earliest case) once segments are visible
        if value >= cancel_at and (seen_event_playlist or cancel_at < 0.1 or value >= 1.0):
            scope.cancel()

    with trio.CancelScope() as scope:
        await transcode(source, out, limiter=trio.CapacityLimiter(2), on_progress=on_progress)
    assert scope.cancelled_caught
    assert live_children() == []
    assert not list(out.rglob("*.tmp"))
    if cancel_at >= 0.4:
        assert seen_event_playlist  # the first segments were playable while encoding went on
    for rendition in DEFAULT_LADDER:
        if not (out / rendition.name).exists():
            continue
        parse = mp3.parse_header if rendition.codec == "mp3" else adts.parse_header
        for path in segment_files(out, rendition.name):
            splitter = FrameSplitter(parse)
            frames = splitter.feed(payload(path.read_bytes())) + splitter.finish()
            assert frames and splitter.skipped_bytes == 0, path


@pytest.mark.slow
async def test_a_long_track_keeps_time(tmp_path: Path) -> None:
    require_tool("ffmpeg")
    minutes = 3
    signal = music(60.0 * minutes, 22050, channels=1)
    source = write(tmp_path / "long.flac", signal, 22050, subtype="PCM_16")
    result = await run(source, tmp_path / "out", ladder=[Rendition("mp3_64", "mp3", 64)])
    assert result.frames == 60 * minutes * RATE
    rendition = result.renditions[0]
    assert rendition.segment_count <= -(-rendition.samples // (230 * 1152))
    files = segment_files(tmp_path / "out", "mp3_64")
    stamps = [id3.read_priv_timestamp(p.read_bytes()[:100]) for p in files]
    starts = np.cumsum((0, *rendition.segment_samples[:-1]))
    assert stamps == [(2 * int(n) * 90000 + RATE) // (2 * RATE) for n in starts]
    decoded = decode(tmp_path / "out" / "master-mp3.m3u8")
    assert 0 <= len(decoded) - rendition.priming_samples - result.frames < 1152


async def test_an_unwritable_output_is_an_error_with_a_reason(tmp_path: Path) -> None:
    source = write(tmp_path / "in.wav", music(1.0))
    blocker = tmp_path / "out"
    blocker.write_text("a file where the output directory should go")
    with pytest.raises(TranscodeError, match="cannot create"):
        await run(source, blocker, ffmpeg=None)
    # a folder removed under it (a track deleted as its transcode starts) does not come back
    with pytest.raises(TranscodeError, match="cannot create"):
        await run(source, tmp_path / "removed" / "hls", ffmpeg=None)
    assert not (tmp_path / "removed").exists()


def test_the_reason_comes_out_of_nested_nurseries_alone() -> None:
    from veza.transcode.pipeline import single_error

    reason = TranscodeError("mp3_320: ffmpeg encoder failed")
    side_effect = trio.BrokenResourceError()
    nested = ExceptionGroup("outer", [ExceptionGroup("inner", [reason]), side_effect])
    assert single_error(nested) is reason
    bug = ExceptionGroup("outer", [reason, KeyError("bug")])
    assert single_error(bug) is bug
    cancelled = BaseExceptionGroup("outer", [reason, KeyboardInterrupt()])
    assert single_error(cancelled) is cancelled
