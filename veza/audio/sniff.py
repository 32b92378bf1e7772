"""What a file's first bytes say it is: the signatures of the audio containers we decode.

Readers (libsndfile, FFmpeg) decide whether they can read a file; this only tells, when they
cannot, a file that announces an audio format of ours (so it is damaged) from one that does
not (so it is not audio at all). Raw streams without a header (MP3 without an ID3 tag, ADTS,
AC-3) have no signature to speak of and are never claimed here.
"""

from __future__ import annotations

HEAD_BYTES = 64

_ASF = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
_W64 = b"riff\x2e\x91\xcf\x11\xa5\xd6\x28\xdb\x04\xc1\x00\x00"

# (offset, magic, name for people); the first match wins.
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"fLaC", "a FLAC"),
    (0, b"OggS", "an Ogg"),
    (0, b"ID3", "an MP3"),
    (4, b"ftyp", "an MP4 (M4A)"),
    (0, b"\x1a\x45\xdf\xa3", "a Matroska (WebM)"),
    (0, _ASF, "a Windows Media"),
    (0, _W64, "a Wave64"),
    (0, b"caff", "a Core Audio (CAF)"),
    (0, b"wvpk", "a WavPack"),
    (0, b"MAC ", "a Monkey's Audio (APE)"),
    (0, b"MPCK", "a Musepack"),
    (0, b"MP+", "a Musepack"),
    (0, b"TTA1", "a True Audio (TTA)"),
    (0, b".snd", "a Sun audio (AU)"),
    (0, b"#!AMR", "an AMR"),
)


def audio_container(head: bytes) -> str | None:
    """The audio container `head` (a file's first `HEAD_BYTES`) announces, named for people
    ("a FLAC", "an MP4 (M4A)"), or None."""
    riff = head[:4] in (b"RIFF", b"RIFX", b"RF64", b"BW64")
    if riff and head[8:12] == b"WAVE":
        return "a WAV"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "an AIFF"
    for offset, magic, name in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return name
    return None
