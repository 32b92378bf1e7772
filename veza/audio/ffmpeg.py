"""FFmpeg and ffprobe command lines, probe output parsing, and the stderr tail errors quote."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from veza.audio.decode import SourceInfo
from veza.audio.ladder import Rendition

_QUIET = ["-hide_banner", "-nostdin", "-loglevel", "error"]
# Uploads are untrusted: without these, a "song" that is really an HLS or concat playlist makes
# FFmpeg open other local files (or URLs) and serve their contents as audio.
_UNTRUSTED_INPUT = [
    "-protocol_whitelist",
    "file",
    "-format_whitelist",
    "aac,ac3,aiff,amr,ape,asf,au,caf,dts,eac3,flac,matroska,mov,mp3,mpc,mpc8,ogg,tta,w64,wav,wv",
]
_ENCODERS = {"mp3": ["-c:a", "libmp3lame"], "aac": ["-c:a", "aac"]}
# Raw streams on stdout: no Xing frame or ID3 tag (MP3), self-delimiting ADTS frames (AAC).
_MUXERS = {
    "mp3": ["-f", "mp3", "-write_xing", "0", "-id3v2_version", "0", "-write_id3v1", "0"],
    "aac": ["-f", "adts"],
}


def encoder_argv(
    ffmpeg: str,
    rendition: Rendition,
    pcm: Path,
    *,
    sample_rate: int,
    channels: int,
    gain: float = 1.0,
) -> list[str]:
    """An encoder child reading the interleaved float32 PCM file `pcm` (ours), scaling it by
    `gain`, writing frames on stdout.

    The volume filter multiplies each float32 sample by the gain rounded to float32, as numpy
    does with `block * np.float32(gain)`: the coded bytes are those of the scaled samples."""
    volume = ["-af", f"volume={float(np.float32(gain))!r}"] if gain != 1.0 else []
    return [
        ffmpeg,
        *_QUIET,
        "-f",
        "f32le",
        "-ar",
        str(sample_rate),
        "-ac",
        str(channels),
        "-i",
        _file_url(pcm),
        *volume,
        "-map_metadata",
        "-1",
        *_ENCODERS[rendition.codec],
        "-b:a",
        f"{rendition.bitrate_kbps}k",
        # Without this FFmpeg flushes every packet to a pipe: one wake-up per 1 KB frame.
        "-flush_packets",
        "0",
        *_MUXERS[rendition.codec],
        "pipe:1",
    ]


def decoder_argv(ffmpeg: str, source: Path, info: SourceInfo) -> list[str]:
    """A decoder child writing the first audio stream as interleaved float32 at its own rate.

    `-xerror`: a damaged stream fails (with FFmpeg's reason) instead of decoding to glitches.
    """
    return [
        ffmpeg,
        *_QUIET,
        "-xerror",
        *_UNTRUSTED_INPUT,
        "-i",
        _file_url(source),
        "-map",
        "0:a:0",
        "-vn",
        "-sn",
        "-dn",
        "-ar",
        str(info.sample_rate),
        "-ac",
        str(info.channels),
        "-f",
        "f32le",
        "-acodec",
        "pcm_f32le",
        "pipe:1",
    ]


def probe_argv(ffprobe: str, source: Path) -> list[str]:
    return [
        ffprobe,
        "-hide_banner",
        "-loglevel",
        "error",
        *_UNTRUSTED_INPUT,
        "-probesize",
        "5000000",
        "-select_streams",
        "a:0",
        "-show_entries",
        "stream=codec_name,sample_rate,channels,duration:format=format_name,duration,probe_score",
        "-of",
        "json",
        _file_url(source),
    ]


def ffmpeg_probe_argv(ffmpeg: str, source: Path) -> list[str]:
    """What ffprobe would say, from FFmpeg alone (imageio-ffmpeg ships no ffprobe): with no
    output named, FFmpeg opens the input, describes it on stderr and exits 1. Each line is
    prefixed with its level, so errors are told from the description; the probe score is a
    debug line."""
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "level+debug",
        *_UNTRUSTED_INPUT,
        "-probesize",
        "5000000",
        "-i",
        _file_url(source),
    ]


def _file_url(path: Path) -> str:
    """`file:` keeps a name like `concat:a|b` or `-x` from being read as anything but a path."""
    return f"file:{path}"


class ProbeError(ValueError):
    """ffprobe answered, but not with a usable audio stream."""


class NoAudioStream(ProbeError):
    """ffprobe read the container, and it holds no audio stream."""


# FFmpeg names a format whatever scores best, however low: `.mp3` on any file is worth 1 point
# (of 100) and one byte pair that looks like an MPEG frame header another, so an ELF binary
# named `.mp3` "is" MPEG Layer I and decodes to a few frames of noise. FFmpeg itself calls a
# score at or below AVPROBE_SCORE_RETRY (25) a possible misdetection; a real MP3 or ADTS stream
# of more than a few frames scores 51, and a container with a header 100.
MIN_PROBE_SCORE = 25


def parse_probe(text: str) -> SourceInfo:
    """SourceInfo from ffprobe's JSON output."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProbeError(f"unreadable ffprobe output: {exc}") from None
    fmt = data.get("format") or {}
    score = fmt.get("probe_score", 100)
    if not isinstance(score, int) or score < MIN_PROBE_SCORE:
        raise ProbeError(
            f"format {fmt.get('format_name', '?')} guessed with too little evidence "
            f"(probe score {score}, at least {MIN_PROBE_SCORE} needed)"
        )
    streams = data.get("streams") or []
    if not streams:
        raise NoAudioStream("no audio stream")
    stream = streams[0]
    try:
        rate, channels = int(stream["sample_rate"]), int(stream["channels"])
    except (KeyError, TypeError, ValueError):
        raise ProbeError("audio stream without sample rate or channel count") from None
    if rate <= 0 or channels <= 0:
        raise ProbeError(f"invalid audio stream ({rate} Hz, {channels} channels)")
    duration: float | None = None
    for raw in (stream.get("duration"), fmt.get("duration")):
        try:
            duration = float(str(raw))
            break
        except (TypeError, ValueError):
            continue
    name = f"{fmt.get('format_name', '?')}/{stream.get('codec_name', '?')}"
    return SourceInfo(rate, channels, None, duration, name, "ffmpeg")


# FFmpeg's named channel layouts (libavutil/channel_layout.c) and their channel counts.
_LAYOUTS = {
    "mono": 1, "stereo": 2, "binaural": 2, "downmix": 2, "2.1": 3, "3.0": 3, "3.0(back)": 3,
    "4.0": 4, "quad": 4, "quad(side)": 4, "3.1": 4, "5.0": 5, "5.0(side)": 5, "4.1": 5,
    "5.1": 6, "5.1(side)": 6, "6.0": 6, "6.0(front)": 6, "3.1.2": 6, "hexagonal": 6,
    "6.1": 7, "6.1(back)": 7, "6.1(front)": 7, "7.0": 7, "7.0(front)": 7, "7.1": 8,
    "7.1(wide)": 8, "7.1(wide-side)": 8, "5.1.2": 8, "5.1.2(back)": 8, "7.1(top)": 8,
    "octagonal": 8, "cube": 8, "5.1.4": 10, "7.1.2": 10, "7.1.4": 12, "7.2.3": 12,
    "9.1.4": 14, "9.1.6": 16, "hexadecagonal": 16, "22.2": 24,
}  # fmt: skip
_LEVEL = re.compile(r"^(?:\[[^\]]* @ [^\]]*\] )?\[(\w+)\] ?(.*)$")
_INPUT = re.compile(r"^Input #0, (.+), from ")
# A debug line names the score; a guess on little evidence is a warning with its score instead.
_SCORE = re.compile(r"(?:probed with size=\d+ and score=|detected only with low score of )(\d+)")
_DURATION = re.compile(r"^\s*Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_AUDIO = re.compile(r"^\s*Stream #0:\d+\S*.*?: Audio: (\w+)(.*)$")
_RATE_LAYOUT = re.compile(r", (\d+) Hz, ([^,]+)")
# FFmpeg says this whenever no output is named: it is how the probe ends, not a fault.
_NO_OUTPUT = "At least one output file must be specified"


def _levelled(text: str) -> list[tuple[str, str]]:
    lines = []
    for line in text.splitlines():
        match = _LEVEL.match(line)
        lines.append((match[1], match[2]) if match else ("info", line))
    return lines


def ffmpeg_probe_errors(text: str) -> bytes:
    """The error lines of a probe by FFmpeg, for `stderr_tail`."""
    errors = [
        message
        for level, message in _levelled(text)
        if level in ("error", "fatal", "panic") and _NO_OUTPUT not in message
    ]
    return "\n".join(errors).encode()


def _channel_count(layout: str) -> int:
    layout = layout.strip()
    counted = re.match(r"^(\d+) channels", layout)
    if counted:
        return int(counted[1])
    if layout in _LAYOUTS:
        return _LAYOUTS[layout]
    raise ProbeError(f"channel layout {layout!r} not understood")


def parse_ffmpeg_probe(text: str) -> SourceInfo:
    """SourceInfo from the stderr of `ffmpeg_probe_argv`, like `parse_probe` from ffprobe's."""
    format_name, score, duration = "", 100, None
    stream: re.Match[str] | None = None
    for _, message in _levelled(text):
        if found := _INPUT.match(message):
            format_name = found[1]
        elif found := _SCORE.search(message):
            score = min(score, int(found[1]))
        elif (found := _DURATION.match(message)) and duration is None:
            duration = int(found[1]) * 3600 + int(found[2]) * 60 + float(found[3])
        elif (found := _AUDIO.match(message)) and stream is None:
            stream = found
    if not format_name:
        raise ProbeError("FFmpeg could not open it")
    if score < MIN_PROBE_SCORE:
        raise ProbeError(
            f"format {format_name} guessed with too little evidence "
            f"(probe score {score}, at least {MIN_PROBE_SCORE} needed)"
        )
    if stream is None:
        raise NoAudioStream("no audio stream")
    details = _RATE_LAYOUT.search(stream[2])
    if details is None:
        raise ProbeError("audio stream without sample rate or channel count")
    rate, channels = int(details[1]), _channel_count(details[2])
    if rate <= 0 or channels <= 0:
        raise ProbeError(f"invalid audio stream ({rate} Hz, {channels} channels)")
    return SourceInfo(rate, channels, None, duration, f"{format_name}/{stream[1]}", "ffmpeg")


def stderr_tail(data: bytes, *, lines: int = 6, limit: int = 600) -> str:
    """The last lines of a child's stderr, for a human-readable error."""
    text = data.decode("utf-8", "replace").strip()
    tail = " | ".join(line.strip() for line in text.splitlines()[-lines:] if line.strip())
    return tail[-limit:] if tail else "(no output on stderr)"
