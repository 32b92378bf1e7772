"""ADTS headers: the self-delimiting AAC frames FFmpeg writes with `-f adts`."""

from __future__ import annotations

from veza.audio.frames import FrameHeader

_SAMPLE_RATES = (
    96000,
    88200,
    64000,
    48000,
    44100,
    32000,
    24000,
    22050,
    16000,
    12000,
    11025,
    8000,
    7350,
)


def parse_header(data: bytes | bytearray, offset: int = 0) -> FrameHeader | None:
    """The ADTS header at `offset`, or None."""
    if len(data) - offset < 7:
        return None
    h = data[offset : offset + 7]
    if h[0] != 0xFF or (h[1] & 0xF6) != 0xF0:  # syncword, layer 00
        return None
    profile = h[2] >> 6
    rate_index = (h[2] >> 2) & 0x0F
    if rate_index >= len(_SAMPLE_RATES):
        return None
    channels = ((h[2] & 1) << 2) | (h[3] >> 6)
    length = ((h[3] & 3) << 11) | (h[4] << 3) | (h[5] >> 5)
    header_size = 7 if h[1] & 1 else 9
    if length <= header_size:
        return None
    blocks = (h[6] & 3) + 1
    signature = ((h[1] >> 3) & 1, profile, rate_index, channels)
    return FrameHeader(length, 1024 * blocks, _SAMPLE_RATES[rate_index], signature)
