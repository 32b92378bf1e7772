"""Rendition specs: what the ladder encodes, and the per-codec facts HLS and players need."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Codec = Literal["mp3", "aac"]

# Samples a decoder emits before the first source sample. MP3: LAME's encoder delay (576)
# plus the MPEG decoder's own delay (529); AAC: the encoder's 1024-sample priming frame.
MP3_DECODER_DELAY = 529
LAME_ENCODER_DELAY = 576
PRIMING_SAMPLES: dict[Codec, int] = {
    "mp3": LAME_ENCODER_DELAY + MP3_DECODER_DELAY,
    "aac": 1024,
}
HLS_CODECS: dict[Codec, str] = {"mp3": "mp4a.40.34", "aac": "mp4a.40.2"}
EXTENSIONS: dict[Codec, str] = {"mp3": "mp3", "aac": "aac"}
# One codec family per master playlist: players switch between variants of one codec only
# (hls.js freezes switching from MP3 to AAC; Chromium's native player fails on a mixed master).
MASTERS: dict[Codec, str] = {"aac": "master.m3u8", "mp3": "master-mp3.m3u8"}


# How far a rendition's peak segment bit rate (RFC 8216 §4.3.4.2, its ID3 tags included)
# exceeds its nominal rate at most: what a master playlist declares BANDWIDTH from before any
# segment exists (`Rendition.peak_ratio`).
#
# MP3 from LAME is CBR: every frame has the size of the bit rate, so a segment's rate is the
# nominal one (measured: 1.000 of it plus the ID3 tag, over 11 kinds of signal at 64 to 320
# kbit/s). LAME only codes MPEG's standard rates and rounds any other to one of them.
MP3_BITRATES = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
# FFmpeg's AAC encoder (Debian 12's FFmpeg 5.1) only aims at its rate. Measured: the worst
# peak segment bit rate over the nominal one, each rate tried on music-like tones, white and
# pink noise, sweeps, square waves, clicks, and noise bursts over digital
# silence at 3 to 50 a second, 3 to 80 ms long, at three levels, over 0.1 to 30 s. Music
# and noise stay within 1.02 to 1.07 of the nominal rate; bursts over silence are the worst
# by far (the encoder saves bits in the silence and spends the quality it gained on the
# next burst), and more so the lower the rate.
AAC_PEAK_MEASURED: tuple[tuple[int, float], ...] = (
    (32, 2.054),
    (48, 1.968),
    (64, 2.446),
    (96, 2.419),
    (128, 1.896),
    (160, 1.764),
    (192, 1.590),
    (256, 1.286),
    (320, 1.251),
)
# Declared over the worst measured, for signals not tried.
AAC_PEAK_HEADROOM = 1.1


@dataclass(frozen=True)
class Rendition:
    """One rung of the ladder: `name` is also its directory under the track's output."""

    name: str
    codec: Codec
    bitrate_kbps: int

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.codec]

    @property
    def hls_codec(self) -> str:
        return HLS_CODECS[self.codec]

    @property
    def priming_samples(self) -> int:
        return PRIMING_SAMPLES[self.codec]

    @property
    def peak_ratio(self) -> float:
        """The most this rendition's peak segment bit rate may exceed its nominal rate by
        (what the ID3 tags add aside, which `hls.declared_bandwidths` counts)."""
        kbps = self.bitrate_kbps
        if self.codec == "mp3":
            coded = next((rate for rate in MP3_BITRATES if rate >= kbps), MP3_BITRATES[-1])
            return max(1.0, coded / kbps)
        # the measured rates next to this one, on either side (the one, if it was measured)
        below = [ratio for rate, ratio in AAC_PEAK_MEASURED if rate <= kbps][-1:]
        above = [ratio for rate, ratio in AAC_PEAK_MEASURED if rate >= kbps][:1]
        return AAC_PEAK_HEADROOM * max(below + above)

    @property
    def master(self) -> str:
        """The master playlist that lists this rendition (one per codec family)."""
        return MASTERS[self.codec]


# The bit rates each encoder takes: LAME's standard MPEG-1 Layer III rates, and a range for AAC.
MP3_BITRATES = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
AAC_BITRATES = range(32, 321)


def parse_rendition(entry: str) -> Rendition:
    """A ladder entry `codec:kbit/s` (`aac:128`, `mp3:320`); ValueError for anything else."""
    codec, _, rate = entry.strip().lower().partition(":")
    if not rate.isascii() or not rate.isdigit():
        raise ValueError(entry)
    kbps = int(rate)
    allowed = {"aac": AAC_BITRATES, "mp3": MP3_BITRATES}.get(codec)
    if allowed is None or kbps not in allowed:
        raise ValueError(entry)
    return Rendition(f"{codec}_{kbps}", "aac" if codec == "aac" else "mp3", kbps)


def ladder_spec(ladder: tuple[Rendition, ...]) -> str:
    """The ladder as its setting spells it (`aac:256,aac:128`): what a track records."""
    return ",".join(f"{r.codec}:{r.bitrate_kbps}" for r in ladder)


DEFAULT_LADDER: tuple[Rendition, ...] = (
    Rendition("aac_256", "aac", 256),
    Rendition("aac_128", "aac", 128),
    Rendition("aac_64", "aac", 64),
)
