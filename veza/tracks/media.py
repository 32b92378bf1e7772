"""Where a track's files live under the media directory: one folder per track id, and under
its `hls` folder one folder per generation of renditions."""

from __future__ import annotations

import contextlib
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
        """The original: in the track's folder, or where a music folder holds it (read-only)."""
        if track.source_path is not None:
            return Path(track.source_path)
        return self.track_dir(track.id) / f"original{track.original_ext}"

    def stored_bytes(self, track: Track) -> int:
        """Bytes of what Veza made of the track in its folder (renditions, waveform, covers),
        its original aside (blocking: call it in a thread)."""
        original = self.original(track)
        total = 0
        for path in self.track_dir(track.id).rglob("*"):
            with contextlib.suppress(FileNotFoundError):  # an old generation being removed
                if path != original and path.is_file() and not path.is_symlink():
                    total += path.stat().st_size
        return total
