"""HLS playlists (RFC 8216) for packed-audio renditions, built with the m3u8 library.

URIs come from caller-supplied builders so the server can sign them (`0.mp3?token=...`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import m3u8

VERSION = 3  # floating-point EXTINF durations


def target_duration(longest_segment_s: float) -> int:
    """EXT-X-TARGETDURATION: every EXTINF rounded to the nearest integer must not exceed it."""
    return max(1, math.floor(longest_segment_s + 0.5))


def media_playlist(
    durations: Sequence[float], *, target: int, finished: bool, segment_uri: Callable[[int], str]
) -> str:
    """EVENT playlist while segments are still coming; VOD with ENDLIST once `finished`."""
    playlist = m3u8.M3U8()
    playlist.version = VERSION
    playlist.target_duration = target
    playlist.is_independent_segments = True
    playlist.playlist_type = "vod" if finished else "event"
    playlist.media_sequence = 0
    for index, duration in enumerate(durations):
        playlist.segments.append(m3u8.Segment(uri=segment_uri(index), duration=duration))
    playlist.is_endlist = finished
    text: str = playlist.dumps()
    return text


@dataclass(frozen=True)
class Variant:
    """One EXT-X-STREAM-INF line: a rendition's media playlist and its bit rates (bit/s)."""

    name: str
    codecs: str
    peak_bandwidth: int
    average_bandwidth: int


def master_playlist(variants: Sequence[Variant], *, variant_uri: Callable[[str], str]) -> str:
    """The master playlist, highest peak bandwidth first (players start at the first entry)."""
    playlist = m3u8.M3U8()
    playlist.version = VERSION
    playlist.is_independent_segments = True
    for variant in sorted(variants, key=lambda v: -v.peak_bandwidth):
        stream_info = {
            "bandwidth": variant.peak_bandwidth,
            "average_bandwidth": variant.average_bandwidth,
            "codecs": variant.codecs,
        }
        playlist.playlists.append(
            m3u8.Playlist(
                variant_uri(variant.name), stream_info=stream_info, media=[], base_uri=None
            )
        )
    playlist.is_variant = True
    text: str = playlist.dumps()
    return text


def bandwidths(sizes: Sequence[int], durations: Sequence[float]) -> tuple[int, int]:
    """(peak, average) bit/s over segments: the peak is the largest per-segment rate."""
    if not sizes:
        return 0, 0
    peak = max(8 * size / duration for size, duration in zip(sizes, durations, strict=True))
    average = 8 * sum(sizes) / sum(durations)
    return math.ceil(peak), math.ceil(average)


def default_segment_uri(extension: str) -> Callable[[int], str]:
    return lambda index: f"{index}.{extension}"


def default_variant_uri(name: str) -> str:
    return f"{name}/index.m3u8"


def rewrite_uris(text: str, uri: Callable[[str], str]) -> str:
    """A stored playlist (media or master) with every URI passed through `uri`: how a server
    signs the playlists a transcode wrote (`0.mp3` -> `0.mp3?token=...`) without redoing them."""
    playlist = m3u8.loads(text)
    for segment in playlist.segments:
        segment.uri = uri(segment.uri)
    for variant in playlist.playlists:
        variant.uri = uri(variant.uri)
    rewritten: str = playlist.dumps()
    return rewritten
