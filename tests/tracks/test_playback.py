"""Playback tokens and signed playlists, as pure functions."""

from __future__ import annotations

import pytest

from veza.errors import Forbidden, NotFound
from veza.tracks.playback import segment_name, sign, signed_playlist, verify

SECRET = "s" * 40
TRACK = "0123456789abcdef01234567"


def test_a_signed_token_is_accepted_until_it_expires() -> None:
    token = sign(SECRET, TRACK, expires=1_000)
    verify(SECRET, TRACK, token, now=999)
    with pytest.raises(Forbidden, match="expired"):
        verify(SECRET, TRACK, token, now=1_001)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "1000.",
        sign(SECRET, "f" * 24, 1_000),  # another track
        sign("t" * 40, TRACK, 1_000),  # another key
        "2000." + sign(SECRET, TRACK, 1_000).split(".")[1],  # expiry pushed out
        "\u00b2.x",  # a superscript two: str.isdigit() says yes, int() says no
        "\u0661\u0660\u0660\u0660." + sign(SECRET, TRACK, 1_000).split(".")[1],  # Arabic-Indic
    ],
)
def test_a_forged_or_foreign_token_is_refused(token: str) -> None:
    with pytest.raises(Forbidden):
        verify(SECRET, TRACK, token, now=500)


def test_every_uri_of_a_playlist_carries_the_token() -> None:
    media = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.0,\n0.mp3\n#EXTINF:2.0,\n1.mp3\n"
    uris = [line for line in signed_playlist(media, "T").splitlines() if not line.startswith("#")]
    assert uris == ["0.mp3?token=T", "1.mp3?token=T"]
    master = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="mp4a.40.2"\naac_128/index.m3u8\n'
    assert signed_playlist(master, "T").splitlines()[-1] == "aac_128/index.m3u8?token=T"


def test_a_string_that_cannot_be_a_track_id_is_not_found_whatever_the_token() -> None:
    with pytest.raises(NotFound):
        verify(SECRET, "../secret", sign(SECRET, "../secret", 1_000), now=500)


@pytest.mark.parametrize("name", ["0.wav", "\u0660.mp3", "../0.mp3", "1234567.aac", "0.mp3 "])
def test_only_names_the_segment_writer_makes_are_segments(name: str) -> None:
    with pytest.raises(NotFound):
        segment_name(name)


def test_segment_names_are_canonical() -> None:
    assert segment_name("007.aac") == ("7.aac", "audio/aac")
    assert segment_name("12.mp3") == ("12.mp3", "audio/mpeg")
