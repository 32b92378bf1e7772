"""Where a track's files live under the media directory: one folder per track id, and under
its `hls` folder one folder per generation of renditions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from veza.store.tracks import Track


@dataclass(frozen=True)
class MediaLayout:
    media_dir: Path

    def track_dir(self, track_id: str) -> Path:
        return self.media_dir / track_id

    def hls_root(self, track_id: str) -> Path:
        return self.track_dir(track_id) / "hls"

    def hls_dir(self, track_id: str, generation: int) -> Path:
        """One generation's output. Generation 0 is the layout from before generations: its
        files sit in the HLS folder itself (numbered folders never clash with rendition names)."""
        root = self.hls_root(track_id)
        return root if generation == 0 else root / str(generation)

    def original(self, track: Track) -> Path:
        return self.track_dir(track.id) / f"original{track.original_ext}"
