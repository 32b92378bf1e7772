"""Tagged audio files for the catalogue tests: audio made with numpy, tags and covers written
by mutagen the way common taggers write them (ID3v2 frames, Vorbis comments and picture
blocks, MP4 atoms); and images, sound or hostile."""

from __future__ import annotations

import base64
import io
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from mutagen.flac import FLAC, Picture
from mutagen.id3 import APIC, ID3, TALB, TCON, TDRC, TIT2, TPE1, TPE2, TPOS, TRCK, TXXX
from mutagen.mp4 import MP4, MP4Cover, MP4FreeForm
from mutagen.oggvorbis import OggVorbis
from PIL import Image

from tests.support import require_tool

RATE = 44100


@dataclass(frozen=True)
class Tagging:
    title: str = "Äpfel im Regen"
    artist: str = "Beyoncé"
    album: str = "Früchte"
    album_artist: str = "Various Artists"
    track: int = 3
    tracks: int = 12
    disc: int = 2
    discs: int = 2
    year: int = 2019
    genre: str = "Électro"
    gain: str = "-6.50 dB"
    peak: str = "0.988235"


def jpeg(width: int = 600, height: int = 400, color: tuple[int, int, int] = (200, 30, 60)) -> bytes:
    image = Image.new("RGB", (width, height), color)
    for x in range(0, width, 20):  # some detail, so the encoder has something to do
        image.putpixel((x, x * height // width), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def png(width: int = 64, height: int = 64, color: tuple[int, int, int] = (0, 128, 128)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def png_bomb(width: int = 60_000, height: int = 60_000) -> bytes:
    """A small PNG whose header claims width x height pixels: a decompression bomb (its data
    is a few bytes of zlib that would inflate to gigabytes)."""
    out = io.BytesIO()
    Image.new("1", (8, 8)).save(out, "PNG")
    data = bytearray(out.getvalue())
    # IHDR is the first chunk: 8-byte signature, length, "IHDR", width, height, ...
    ihdr_start = 8 + 4
    data[ihdr_start + 4 : ihdr_start + 12] = struct.pack(">II", width, height)
    body = bytes(data[ihdr_start : ihdr_start + 4 + 13])
    data[ihdr_start + 17 : ihdr_start + 21] = struct.pack(">I", zlib.crc32(body))
    return bytes(data)


def truncated_jpeg() -> bytes:
    whole = jpeg(800, 800)
    return whole[: len(whole) // 3]


def _audio(seconds: float, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    tone = 0.3 * np.sin(2 * np.pi * freq * t)
    return np.stack([tone, tone * 0.8], axis=1).astype(np.float32)


def tagged_mp3(path: Path, tags: Tagging = Tagging(), cover: bytes | None = None) -> Path:
    sf.write(path, _audio(1.0), RATE, format="MP3")
    id3 = ID3()
    id3.add(TIT2(encoding=3, text=tags.title))
    id3.add(TPE1(encoding=3, text=tags.artist))
    id3.add(TALB(encoding=3, text=tags.album))
    id3.add(TPE2(encoding=3, text=tags.album_artist))
    id3.add(TRCK(encoding=3, text=f"{tags.track}/{tags.tracks}"))
    id3.add(TPOS(encoding=3, text=f"{tags.disc}/{tags.discs}"))
    id3.add(TDRC(encoding=3, text=str(tags.year)))
    id3.add(TCON(encoding=3, text=tags.genre))
    id3.add(TXXX(encoding=3, desc="REPLAYGAIN_TRACK_GAIN", text=tags.gain))
    id3.add(TXXX(encoding=3, desc="REPLAYGAIN_TRACK_PEAK", text=tags.peak))
    if cover is not None:
        id3.add(APIC(encoding=3, mime="image/png", type=0, desc="back", data=jpeg(50, 50)))
        id3.add(APIC(encoding=3, mime="image/jpeg", type=3, desc="front", data=cover))
    id3.save(path)
    return path


def _vorbis_comments(tags: Tagging) -> dict[str, str]:
    return {
        "title": tags.title,
        "artist": tags.artist,
        "album": tags.album,
        "albumartist": tags.album_artist,
        "tracknumber": str(tags.track),
        "discnumber": str(tags.disc),
        "date": f"{tags.year}-05-01",
        "genre": tags.genre,
        "replaygain_track_gain": tags.gain,
        "replaygain_track_peak": tags.peak,
    }


def _picture(cover: bytes) -> Picture:
    picture = Picture()
    picture.type = 3
    picture.mime = "image/jpeg"
    picture.data = cover
    return picture


def tagged_flac(path: Path, tags: Tagging = Tagging(), cover: bytes | None = None) -> Path:
    sf.write(path, _audio(1.0), RATE, format="FLAC")
    flac = FLAC(path)
    for key, value in _vorbis_comments(tags).items():
        flac[key] = value
    if cover is not None:
        flac.add_picture(_picture(cover))
    flac.save()
    return path


def tagged_ogg(path: Path, tags: Tagging = Tagging(), cover: bytes | None = None) -> Path:
    sf.write(path, _audio(1.0), RATE, format="OGG", subtype="VORBIS")
    ogg = OggVorbis(path)
    for key, value in _vorbis_comments(tags).items():
        ogg[key] = value
    if cover is not None:
        ogg["metadata_block_picture"] = base64.b64encode(_picture(cover).write()).decode()
    ogg.save()
    return path


def tagged_m4a(path: Path, tags: Tagging = Tagging(), cover: bytes | None = None) -> Path:
    """AAC in MP4, encoded by FFmpeg (skips, or fails under VEZA_TEST_STRICT=1, without it)."""
    ffmpeg = require_tool("ffmpeg")
    wav = path.with_suffix(".wav")
    sf.write(wav, _audio(1.0), RATE)
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-i", str(wav), "-c:a", "aac", "-b:a", "96k", str(path)],
        check=True,
    )
    wav.unlink()
    mp4 = MP4(path)
    assert mp4.tags is not None or mp4.add_tags() is None
    atoms = mp4.tags
    assert atoms is not None
    atoms["\xa9nam"] = tags.title
    atoms["\xa9ART"] = tags.artist
    atoms["\xa9alb"] = tags.album
    atoms["aART"] = tags.album_artist
    atoms["trkn"] = [(tags.track, tags.tracks)]
    atoms["disk"] = [(tags.disc, tags.discs)]
    atoms["\xa9day"] = str(tags.year)
    atoms["\xa9gen"] = tags.genre
    atoms["----:com.apple.iTunes:replaygain_track_gain"] = [MP4FreeForm(tags.gain.encode())]
    atoms["----:com.apple.iTunes:replaygain_track_peak"] = [MP4FreeForm(tags.peak.encode())]
    if cover is not None:
        atoms["covr"] = [MP4Cover(cover, imageformat=MP4Cover.FORMAT_JPEG)]
    mp4.save()
    return path
