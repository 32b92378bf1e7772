from __future__ import annotations

import m3u8
import pytest

from veza.audio import hls


def test_event_then_vod_media_playlist() -> None:
    durations = [6.008253968253968, 6.008253968253968, 2.5]
    signed = hls.media_playlist(
        durations, target=6, finished=False, segment_uri=lambda n: f"{n}.mp3?token=abc"
    )
    parsed = m3u8.loads(signed)
    assert parsed.playlist_type == "event" and not parsed.is_endlist
    assert parsed.target_duration == 6 and parsed.version == 3
    assert parsed.is_independent_segments
    assert [s.uri for s in parsed.segments] == [
        "0.mp3?token=abc",
        "1.mp3?token=abc",
        "2.mp3?token=abc",
    ]
    assert [s.duration for s in parsed.segments] == durations  # exact, not rounded
    done = m3u8.loads(
        hls.media_playlist(
            durations, target=6, finished=True, segment_uri=hls.default_segment_uri("mp3")
        )
    )
    assert done.playlist_type == "vod" and done.is_endlist
    assert "#EXT-X-ENDLIST" in done.dumps()


def test_master_lists_codecs_and_bandwidths() -> None:
    variants = [
        hls.Variant("mp3_128", "mp4a.40.34", 130_000, 128_500),
        hls.Variant("mp3_320", "mp4a.40.34", 322_000, 320_400),
        hls.Variant("aac_128", "mp4a.40.2", 135_000, 129_000),
    ]
    text = hls.master_playlist(variants, variant_uri=lambda name: f"{name}/index.m3u8?t=1")
    parsed = m3u8.loads(text)
    assert parsed.is_variant
    entries = [
        (p.uri, p.stream_info.bandwidth, p.stream_info.average_bandwidth, p.stream_info.codecs)
        for p in parsed.playlists
    ]
    assert entries == [
        ("mp3_320/index.m3u8?t=1", 322_000, 320_400, "mp4a.40.34"),
        ("aac_128/index.m3u8?t=1", 135_000, 129_000, "mp4a.40.2"),
        ("mp3_128/index.m3u8?t=1", 130_000, 128_500, "mp4a.40.34"),
    ]


@pytest.mark.parametrize(("longest", "target"), [(6.008, 6), (5.99, 6), (6.5, 7), (0.3, 1)])
def test_target_duration_is_the_rounded_longest_segment(longest: float, target: int) -> None:
    assert hls.target_duration(longest) == target


def test_bandwidths_are_peak_and_average() -> None:
    peak, average = hls.bandwidths([1000, 500], [1.0, 0.25])
    assert peak == 16_000
    assert average == 9600


def test_stored_playlists_can_be_signed_afterwards() -> None:
    media = hls.media_playlist(
        [6.008, 1.5], target=6, finished=True, segment_uri=hls.default_segment_uri("aac")
    )
    signed = hls.rewrite_uris(media, lambda uri: f"{uri}?token=t")
    assert signed == media.replace(".aac", ".aac?token=t")
    master = hls.master_playlist(
        [hls.Variant("aac_128", "mp4a.40.2", 135_000, 129_000)], variant_uri=hls.default_variant_uri
    )
    signed = hls.rewrite_uris(master, lambda uri: f"/hls/7/{uri}?token=t")
    assert signed == master.replace("aac_128/index.m3u8", "/hls/7/aac_128/index.m3u8?token=t")
    event = hls.media_playlist(
        [6.008], target=6, finished=False, segment_uri=hls.default_segment_uri("mp3")
    )
    assert hls.rewrite_uris(event, lambda uri: uri) == event
