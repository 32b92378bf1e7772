"""HLS playlists (RFC 8216) for packed-audio renditions.

Media playlists are written as text of our own, so that a playlist still being transcoded only
ever grows: every version is a prefix of the next (RFC 8216 §6.2.1), ending with ENDLIST.
Master playlists too (a few fixed lines: the m3u8 library wrote them byte for byte the same,
tests/audio/test_hls.py checks it, but importing it, with urllib and http.client, cost about
35 ms of CPU in every process that transcodes). URIs come from caller-supplied builders so the
server can sign them (`0.mp3?token=...`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from veza.audio import id3

VERSION = 3  # floating-point EXTINF durations
ENDLIST = "#EXT-X-ENDLIST\n"
# Bits every segment carries besides its frames: the ID3 PRIV timestamp tag.
TAG_BITS = 8 * len(id3.priv_timestamp_tag(0))


def target_duration(longest_segment_s: float) -> int:
    """EXT-X-TARGETDURATION: every EXTINF rounded to the nearest integer must not exceed it."""
    return max(1, math.floor(longest_segment_s + 0.5))


def media_header(target: int) -> str:
    """The lines a media playlist starts with, the same from its first version to its last.

    An EVENT playlist (segments are only ever appended) that players start at its beginning
    rather than at its live edge (EXT-X-START), also while the transcode is still going on.
    """
    return (
        "#EXTM3U\n"
        f"#EXT-X-VERSION:{VERSION}\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        f"#EXT-X-TARGETDURATION:{target}\n"
        "#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXT-X-PLAYLIST-TYPE:EVENT\n"
        "#EXT-X-START:TIME-OFFSET=0\n"
    )


def media_segment(duration: float, uri: str) -> str:
    """One segment's lines; the duration exact (the shortest text that reads back the same)."""
    return f"#EXTINF:{duration!r},\n{uri}\n"


def media_playlist(
    durations: Sequence[float], *, target: int, finished: bool, segment_uri: Callable[[int], str]
) -> str:
    """The media playlist after `durations` segments; ENDLIST once `finished`."""
    lines = [media_header(target)]
    lines.extend(media_segment(d, segment_uri(i)) for i, d in enumerate(durations))
    if finished:
        lines.append(ENDLIST)
    return "".join(lines)


@dataclass(frozen=True)
class Variant:
    """One EXT-X-STREAM-INF line: a rendition's media playlist and its bit rates (bit/s)."""

    name: str
    codecs: str
    peak_bandwidth: int
    average_bandwidth: int


def master_playlist(variants: Sequence[Variant], *, variant_uri: Callable[[str], str]) -> str:
    """The master playlist, highest peak bandwidth first (players start at the first entry)."""
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{VERSION}", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for variant in sorted(variants, key=lambda v: -v.peak_bandwidth):
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={variant.peak_bandwidth},"
            f'AVERAGE-BANDWIDTH={variant.average_bandwidth},CODECS="{variant.codecs}"'
        )
        lines.append(variant_uri(variant.name))
    return "\n".join(lines) + "\n"


def declared_bandwidths(
    nominal_bps: int, peak_ratio: float, *, target: int, duration_s: float
) -> tuple[int, int]:
    """(BANDWIDTH, AVERAGE-BANDWIDTH) for a master written before its segments are measured.

    The peak is the encoder's nominal rate times `peak_ratio` (its measured worst case over the
    nominal rate) plus one ID3 tag over the shortest span a peak is measured over (half the
    target duration, or the whole track when it is shorter; see `peak_bandwidth`). The average
    is the nominal rate plus one ID3 tag per target duration.
    """
    shortest = max(min(target / 2, duration_s), 0.01)
    peak = math.ceil(nominal_bps * peak_ratio + TAG_BITS / shortest)
    average = math.ceil(nominal_bps + TAG_BITS / target)
    return peak, average


def peak_bandwidth(sizes: Sequence[int], durations: Sequence[float], target: int) -> int:
    """The peak segment bit rate of RFC 8216 §4.3.4.2 (bit/s): the largest bit rate of any
    contiguous set of segments whose total duration is between 0.5 and 1.5 times the target
    duration; for a playlist shorter than half the target, its whole bit rate."""
    best = 0.0
    for start in range(len(sizes)):
        bits, seconds = 0, 0.0
        for size, duration in zip(sizes[start:], durations[start:], strict=True):
            bits, seconds = bits + 8 * size, seconds + duration
            if seconds > 1.5 * target:
                break
            if seconds >= 0.5 * target:
                best = max(best, bits / seconds)
    if best == 0.0 and sizes:
        best = 8 * sum(sizes) / sum(durations)
    return math.ceil(best)


def bandwidths(sizes: Sequence[int], durations: Sequence[float], target: int) -> tuple[int, int]:
    """(peak, average) bit/s measured over a rendition's segments."""
    if not sizes:
        return 0, 0
    return peak_bandwidth(sizes, durations, target), math.ceil(8 * sum(sizes) / sum(durations))


def default_segment_uri(extension: str) -> Callable[[int], str]:
    return lambda index: f"{index}.{extension}"


def default_variant_uri(name: str) -> str:
    return f"{name}/index.m3u8"


def rewrite_uris(text: str, uri: Callable[[str], str]) -> str:
    """A stored playlist (media or master) with every URI passed through `uri`: how a server
    signs the playlists a transcode wrote (`0.mp3` -> `0.mp3?token=...`) without redoing them.

    Line by line, every other byte kept as stored, so a playlist that only grows on disk also
    only grows as served. Our playlists carry URIs on their own lines only (no URI attribute).
    """
    lines = text.splitlines(keepends=True)
    out = []
    for line in lines:
        body = line.rstrip("\r\n")
        if body.strip() and not body.startswith("#"):
            line = uri(body.strip()) + line[len(body) :]
        out.append(line)
    return "".join(out)
