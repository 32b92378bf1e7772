"""MPEG-1/2/2.5 Layer III frame headers and the Xing/Info/LAME tag frame."""

from __future__ import annotations

from dataclasses import dataclass

from veza.audio.frames import FrameHeader, frame_header

_BITRATES_V1 = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_BITRATES_V2 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_LAYER_III = 1


def parse_header(data: bytes | bytearray, offset: int = 0) -> FrameHeader | None:
    """The Layer III header at `offset`, or None (free format and reserved values rejected)."""
    if len(data) - offset < 4:
        return None
    b0, b1, b2, b3 = data[offset], data[offset + 1], data[offset + 2], data[offset + 3]
    if b0 != 0xFF or (b1 & 0xE0) != 0xE0:
        return None
    version = (b1 >> 3) & 3
    layer = (b1 >> 1) & 3
    bitrate_index = b2 >> 4
    rate_index = (b2 >> 2) & 3
    if version == 1 or layer != _LAYER_III or bitrate_index in (0, 15) or rate_index == 3:
        return None
    if (b3 & 3) == 2:  # reserved emphasis
        return None
    sample_rate = _SAMPLE_RATES[version][rate_index]
    padding = (b2 >> 1) & 1
    if version == 3:
        bitrate, samples, coefficient = _BITRATES_V1[bitrate_index], 1152, 144
    else:
        bitrate, samples, coefficient = _BITRATES_V2[bitrate_index], 576, 72
    length = coefficient * bitrate * 1000 // sample_rate + padding
    return frame_header(length, samples, sample_rate, (version, layer, rate_index))


def _side_info_size(frame: bytes) -> int:
    mono = (frame[3] >> 6) == 3
    mpeg1 = ((frame[1] >> 3) & 3) == 3
    if mpeg1:
        return 17 if mono else 32
    return 9 if mono else 17


@dataclass(frozen=True)
class EncoderTag:
    """The Xing/Info frame's LAME extension: samples added before and after the audio."""

    delay: int | None
    padding: int | None


def info_tag(frame: bytes) -> EncoderTag | None:
    """The tag if `frame` is a Xing/Info frame (LAME's, or libsndfile's still-blank placeholder).

    libsndfile writing to a non-seekable sink never fills its placeholder in, which leaves a
    frame whose side info and body are all zero: it decodes to 1152 samples of silence, so it
    is dropped like a real tag frame.
    """
    if len(frame) < 4:
        return None
    start = 4 + (0 if frame[1] & 1 else 2) + _side_info_size(frame)
    marker = frame[start : start + 4]
    if marker in (b"Xing", b"Info"):
        lame = frame.find(b"LAME", start)
        if lame < 0 or lame + 24 > len(frame):
            return EncoderTag(None, None)
        d = frame[lame + 21 : lame + 24]
        return EncoderTag((d[0] << 4) | (d[1] >> 4), ((d[1] & 0x0F) << 8) | d[2])
    if not any(frame[4:]):
        return EncoderTag(None, None)
    return None
