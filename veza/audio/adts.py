"""ADTS headers: the self-delimiting AAC frames FFmpeg writes with `-f adts`."""

from __future__ import annotations

from veza.audio.frames import FrameHeader, frame_header

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
    h0, h1, h2, h3, h4, h5, h6 = data[offset : offset + 7]
    if h0 != 0xFF or (h1 & 0xF6) != 0xF0:  # syncword, layer 00
        return None
    rate_index = (h2 >> 2) & 0x0F
    if rate_index >= len(_SAMPLE_RATES):
        return None
    length = ((h3 & 3) << 11) | (h4 << 3) | (h5 >> 5)
    header_size = 7 if h1 & 1 else 9
    if length <= header_size:
        return None
    channels = ((h2 & 1) << 2) | (h3 >> 6)
    signature = ((h1 >> 3) & 1, h2 >> 6, rate_index, channels)  # MPEG version, profile...
    return frame_header(length, 1024 * ((h6 & 3) + 1), _SAMPLE_RATES[rate_index], signature)
