from __future__ import annotations

import m3u8
import pytest

from veza.audio import hls


def test_media_playlist_is_an_event_playlist_that_only_grows() -> None:
    durations = [6.008253968253968, 6.008253968253968, 2.5]
    uri = hls.default_segment_uri("mp3")
    versions = [
        hls.media_playlist(durations[:n], target=6, finished=False, segment_uri=uri)
        for n in range(1, 4)
    ]
    final = hls.media_playlist(durations, target=6, finished=True, segment_uri=uri)
    for version in versions:
        assert final.startswith(version)  # lines are only ever appended
        parsed = m3u8.loads(version)
        assert parsed.playlist_type == "event" and not parsed.is_endlist
        assert parsed.start is not None and parsed.start.time_offset == 0
    parsed = m3u8.loads(final)
    assert parsed.playlist_type == "event" and parsed.is_endlist
    assert final.endswith("#EXT-X-ENDLIST\n")
    assert parsed.target_duration == 6 and parsed.version == 3
    assert parsed.is_independent_segments
    assert [s.uri for s in parsed.segments] == ["0.mp3", "1.mp3", "2.mp3"]
    assert [s.duration for s in parsed.segments] == durations  # exact, not rounded
    signed = hls.media_playlist(
        durations, target=6, finished=False, segment_uri=lambda n: f"{n}.mp3?token=abc"
    )
    assert m3u8.loads(signed).segments[0].uri == "0.mp3?token=abc"


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


def test_master_is_what_the_m3u8_library_writes() -> None:
    """The master's text is ours (no import of m3u8 in the transcode), the same bytes as the
    m3u8 library's rendering of the same playlist, which wrote it before."""
    variants = [
        hls.Variant("aac_64", "mp4a.40.2", 70_000, 64_100),
        hls.Variant("aac_256", "mp4a.40.2", 262_000, 256_100),
        hls.Variant("mp3_128", "mp4a.40.34", 262_000, 128_100),  # a tie keeps the given order
    ]

    def uri(name: str) -> str:
        return f"{name}/index.m3u8?token=a.b-c"

    playlist = m3u8.M3U8()
    playlist.version = hls.VERSION
    playlist.is_independent_segments = True
    for variant in sorted(variants, key=lambda v: -v.peak_bandwidth):
        stream_info = {
            "bandwidth": variant.peak_bandwidth,
            "average_bandwidth": variant.average_bandwidth,
            "codecs": variant.codecs,
        }
        playlist.playlists.append(
            m3u8.Playlist(uri(variant.name), stream_info=stream_info, media=[], base_uri=None)
        )
    playlist.is_variant = True
    assert hls.master_playlist(variants, variant_uri=uri) == playlist.dumps()
    assert hls.master_playlist(variants[:1], variant_uri=uri) == (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=70000,AVERAGE-BANDWIDTH=64100,CODECS="mp4a.40.2"\n'
        "aac_64/index.m3u8?token=a.b-c\n"
    )


@pytest.mark.parametrize(("longest", "target"), [(6.008, 6), (5.99, 6), (6.5, 7), (0.3, 1)])
def test_target_duration_is_the_rounded_longest_segment(longest: float, target: int) -> None:
    assert hls.target_duration(longest) == target


def test_peak_bandwidth_is_measured_over_spans_of_half_to_one_and_a_half_targets() -> None:
    # RFC 8216 §4.3.4.2: a short last segment alone is not a span; it counts with its neighbour
    sizes, durations = [6000, 9000, 600], [6.0, 6.0, 0.2]
    peak, average = hls.bandwidths(sizes, durations, 6)
    assert peak == 12_388  # the last two (8 * 9600 / 6.2), not the last alone (24,000)
    assert average == round(8 * 15_600 / 12.2 + 0.5)
    assert hls.bandwidths([6000, 9000, 3000], [6.0, 6.0, 2.0], 6)[0] == 12_000
    assert hls.bandwidths([6000, 9000, 3000], [6.0, 3.0, 2.0], 6)[0] == 24_000  # one 3 s segment
    assert hls.bandwidths([6000, 6000], [6.0, 4.0], 6)[0] == 12_000  # 6 + 4 > 9: each alone
    # shorter than half the target: the whole playlist
    assert hls.bandwidths([1000, 500], [1.0, 0.25], 6) == (9600, 9600)
    assert hls.bandwidths([], [], 6) == (0, 0)


def test_declared_bandwidths_cover_the_id3_tags_of_the_shortest_span() -> None:
    peak, average = hls.declared_bandwidths(128_000, 1.0, target=6, duration_s=60.0)
    assert peak == 128_000 + -(-hls.TAG_BITS // 3)
    assert average == 128_000 + -(-hls.TAG_BITS // 6)
    short, _ = hls.declared_bandwidths(128_000, 1.0, target=6, duration_s=0.5)
    assert short == 128_000 + 2 * hls.TAG_BITS
    assert hls.declared_bandwidths(64_000, 2.0, target=6, duration_s=60.0)[0] > 128_000


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
    # a playlist that grows on disk grows as served: signing keeps every version a prefix
    short = hls.media_playlist(
        [6.008], target=6, finished=False, segment_uri=hls.default_segment_uri("mp3")
    )
    longer = hls.media_playlist(
        [6.008, 6.008], target=6, finished=True, segment_uri=hls.default_segment_uri("mp3")
    )
    sign = lambda text: hls.rewrite_uris(text, lambda uri: f"{uri}?token=t")  # noqa: E731
    assert sign(longer).startswith(sign(short))
    assert hls.rewrite_uris(short, lambda uri: uri) == short
