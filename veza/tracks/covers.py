"""Cover art: an image decoded within bounds and re-encoded (never served as it came), in fixed
sizes, stored under the data directory, and read back by size with a content ETag.

Each size keeps the image's aspect ratio: its longer side is the size, or smaller when the
image itself is smaller (never enlarged). A track's covers live in its media folder (they go
with it); an album's under `covers/albums/{album id}` in the data directory."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from veza.errors import NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from veza.files import fsync_dir, make_dirs, write_atomically

SIZES = (64, 128, 256, 512, 1024)
DEFAULT_SIZE = 512
MAX_BYTES = 16 * 1024 * 1024
# Decoded, an image of this many pixels takes about 160 MB (RGBA); anything larger is refused
# before its pixels are decoded (a decompression bomb is a small file that claims a huge size).
MAX_PIXELS = 40_000_000
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
CONTENT_TYPE = "image/jpeg"
_QUALITY = 85
_ALBUM_ID = re.compile(r"[0-9a-f]{24}")

# Pillow's own guard, for any image opened elsewhere in the process: a warning past the limit,
# an error past twice the limit. Ours (below) refuses past the limit, before decoding.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


@dataclass(frozen=True)
class CoverFile:
    body: bytes
    etag: str  # quoted, as HTTP sends it
    content_type: str = CONTENT_TYPE


def served_size(asked: int | None) -> int:
    """The stored size that answers a request: the asked one, else the next one up; past the
    largest, the largest."""
    if asked is None:
        return DEFAULT_SIZE
    return next((size for size in SIZES if size >= asked), SIZES[-1])


def render(data: bytes) -> dict[int, bytes]:
    """Every stored size of an image, as JPEG (blocking: run it in a thread). Refused with a
    4xx error when it is too large, not an image in a format we read, or damaged."""
    if len(data) > MAX_BYTES:
        raise PayloadTooLarge(f"the image is over {MAX_BYTES // (1024 * 1024)} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data), formats=FORMATS)
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ValidationFailed(
                    f"the image is too large ({width} x {height}); at most "
                    f"{MAX_PIXELS // 1_000_000} million pixels"
                )
            image.draft("RGB", (SIZES[-1], SIZES[-1]))  # JPEG: decode at a reduced scale
            image.load()
    except UnidentifiedImageError:
        raise UnsupportedMediaType(
            "not an image in a format we read (JPEG, PNG, WebP, GIF, BMP)"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationFailed("the image is too large") from None
    except (
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        IndexError,
        struct.error,
    ):  # struct: some bad headers
        raise ValidationFailed("the image is damaged or truncated") from None
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "P", "PA"):
        # Transparency over white, where covers are usually shown.
        rgba = image.convert("RGBA")
        image = Image.new("RGB", rgba.size, (255, 255, 255))
        image.paste(rgba, mask=rgba.getchannel("A"))
    else:
        image = image.convert("RGB")
    rendered: dict[int, bytes] = {}
    for size in SIZES:
        copy = image.copy()
        copy.thumbnail((size, size), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        copy.save(out, "JPEG", quality=_QUALITY, optimize=True, progressive=True)
        rendered[size] = out.getvalue()
    return rendered


def content_hash(rendered: dict[int, bytes]) -> str:
    """One hash for a set of sizes (the largest decides): it changes when the cover does."""
    return hashlib.sha256(rendered[SIZES[-1]]).hexdigest()[:32]


@dataclass(frozen=True)
class CoverLayout:
    """Where covers are kept. No part of a path comes from a request: track ids are those of
    stored tracks, album ids are checked to be ours in shape."""

    media_dir: Path
    albums_dir: Path

    def track_dir(self, track_id: str) -> Path:
        return self.media_dir / track_id / "cover"

    def album_dir(self, album_id: str) -> Path:
        if not _ALBUM_ID.fullmatch(album_id):
            raise NotFound("no such album")
        return self.albums_dir / album_id


def save(directory: Path, rendered: dict[int, bytes]) -> None:
    """Every size into `directory`, each file whole or absent (blocking)."""
    make_dirs(directory)
    for size, body in rendered.items():
        write_atomically(directory / f"{size}.jpg", body, sync_dir=False)
    fsync_dir(directory)


def remove(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


def load(directory: Path, size: int | None) -> CoverFile | None:
    """The stored size answering `size` (see served_size), or None (blocking)."""
    try:
        body = (directory / f"{served_size(size)}.jpg").read_bytes()
    except FileNotFoundError:
        return None
    return CoverFile(body, f'"{hashlib.sha256(body).hexdigest()[:32]}"')
