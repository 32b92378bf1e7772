"""ID3v2 tags for HLS packed audio: the PRIV transportStreamTimestamp writer and a small reader."""

from __future__ import annotations

TIMESTAMP_OWNER = b"com.apple.streaming.transportStreamTimestamp"
TIMESTAMP_CLOCK = 90_000
_TIMESTAMP_MASK = (1 << 33) - 1
HEADER_SIZE = 10


def _syncsafe(n: int) -> bytes:
    if not 0 <= n < 1 << 28:
        raise ValueError(f"{n} does not fit a 28-bit syncsafe integer")
    return bytes(((n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F))


def _unsyncsafe(b: bytes | bytearray | memoryview) -> int:
    return (b[0] << 21) | (b[1] << 14) | (b[2] << 7) | b[3]


def timestamp_90k(samples: int, sample_rate: int) -> int:
    """The 33-bit 90 kHz clock value of the sample `samples` of a stream at `sample_rate`:
    the exact time rounded once to the nearest tick (halves up), in integers.

    A segment's timestamp is computed from the count of every sample before it, never by
    adding rounded segment or frame durations, so it never drifts from where demuxers that
    add exact frame durations (FFmpeg counts them at 14.112 or 28.224 MHz and rounds once)
    place that sample."""
    ticks = (2 * samples * TIMESTAMP_CLOCK + sample_rate) // (2 * sample_rate)
    return ticks & _TIMESTAMP_MASK


def priv_timestamp_tag(timestamp: int) -> bytes:
    """An ID3v2.4 tag holding only the PRIV frame HLS packed audio segments must start with."""
    body = TIMESTAMP_OWNER + b"\x00" + (timestamp & _TIMESTAMP_MASK).to_bytes(8, "big")
    frame = b"PRIV" + _syncsafe(len(body)) + b"\x00\x00" + body
    return b"ID3\x04\x00\x00" + _syncsafe(len(frame)) + frame


def tag_length(data: bytes | bytearray | memoryview, offset: int = 0) -> int | None:
    """Total size of the ID3v2 tag starting at `offset`, or None when no valid header is there."""
    head = bytes(data[offset : offset + HEADER_SIZE])
    if len(head) < HEADER_SIZE or head[:3] != b"ID3" or head[3] == 0xFF or head[4] == 0xFF:
        return None
    if any(b & 0x80 for b in head[6:10]):
        return None
    footer = HEADER_SIZE if head[5] & 0x10 else 0
    return HEADER_SIZE + _unsyncsafe(head[6:10]) + footer


def read_priv_timestamp(data: bytes) -> int | None:
    """The PRIV transportStreamTimestamp of the tag at the start of `data`, if any."""
    size = tag_length(data)
    if size is None:
        return None
    version = data[3]
    pos, end = HEADER_SIZE, min(size, len(data))
    while pos + 10 <= end:
        frame_id = data[pos : pos + 4]
        raw = data[pos + 4 : pos + 8]
        length = _unsyncsafe(raw) if version >= 4 else int.from_bytes(raw, "big")
        if frame_id == b"\x00\x00\x00\x00" or length <= 0:
            return None
        body = data[pos + 10 : pos + 10 + length]
        if frame_id == b"PRIV" and body.startswith(TIMESTAMP_OWNER + b"\x00"):
            stamp = body[len(TIMESTAMP_OWNER) + 1 :]
            if len(stamp) == 8:
                return int.from_bytes(stamp, "big") & _TIMESTAMP_MASK
        pos += 10 + length
    return None
