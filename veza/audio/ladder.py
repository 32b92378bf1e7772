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
    Rendition("mp3_320", "mp3", 320),
    Rendition("mp3_128", "mp3", 128),
    Rendition("aac_128", "aac", 128),
)
