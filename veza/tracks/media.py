"""Where a track's files live under the media directory: one folder per track id."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from veza.store.tracks import Track


@dataclass(frozen=True)
class MediaLayout:
    media_dir: Path

    def track_dir(self, track_id: str) -> Path:
        return self.media_dir / track_id

    def hls_dir(self, track_id: str) -> Path:
        return self.track_dir(track_id) / "hls"

    def original(self, track: Track) -> Path:
        return self.track_dir(track.id) / f"original{track.original_ext}"
