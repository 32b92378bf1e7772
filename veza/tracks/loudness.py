"""What a player should do about a track's loudness: whether its renditions were normalised when
they were transcoded, and the gain a client applies when they were not (ReplayGain-style)."""

from __future__ import annotations

from dataclasses import dataclass

from veza.audio.loudness import track_gain
from veza.store.tracks import Track


@dataclass(frozen=True)
class PlaybackLoudness:
    integrated_lufs: float | None  # of the source, before any gain
    true_peak_dbtp: float | None  # of the source, before any gain
    applied_gain_db: float | None  # carried by the renditions (None: not transcoded yet)
    normalised: bool
    suggested_gain_db: float  # what a client adds; 0.0 when the renditions were normalised


def playback_loudness(track: Track, target_lufs: float, ceiling_dbtp: float) -> PlaybackLoudness:
    """The transcode stores the gain it applied and whether it applied one
    (`loudness_apply_gain`): normalised renditions need nothing more; for the others the client
    is told the track gain the transcode would have applied (target from the settings, limited
    so the true peak stays under the ceiling)."""
    applied = track.gain_db
    normalised = applied is not None and bool(track.normalised)
    suggested = 0.0
    if applied is not None and not normalised:
        suggested = track_gain(
            track.loudness_lufs,
            track.true_peak_dbtp,
            target_lufs=target_lufs,
            ceiling_dbtp=ceiling_dbtp,
        )
    return PlaybackLoudness(
        integrated_lufs=track.loudness_lufs,
        true_peak_dbtp=track.true_peak_dbtp,
        applied_gain_db=applied,
        normalised=normalised,
        suggested_gain_db=round(suggested, 2),
    )
