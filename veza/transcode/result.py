"""What a transcode returns (TranscodeResult) or raises (TranscodeError)."""

from __future__ import annotations

from dataclasses import dataclass, field


class TranscodeError(Exception):
    """The source could not be turned into renditions; `reason` is for people to read."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Loudness:
    integrated_lufs: float | None  # None: nothing above the -70 LUFS gate (silence)
    true_peak_dbtp: float | None  # None: digital silence
    gain_db: float  # applied to the renditions (0.0 when gain is off)
    suggested_gain_db: float  # what the target and the ceiling ask for


@dataclass(frozen=True)
class RenditionResult:
    name: str
    codec: str
    bitrate_kbps: int
    extension: str
    hls_codec: str
    segment_count: int
    peak_bandwidth: int  # bit/s, the largest segment's rate (master BANDWIDTH)
    average_bandwidth: int  # bit/s over the whole rendition (AVERAGE-BANDWIDTH)
    samples: int  # coded samples in all segments, priming and padding included
    priming_samples: int  # decoded samples before the first source sample
    padding_samples: int  # decoded samples after the last one (a gapless player trims both)
    segment_samples: tuple[int, ...]  # per segment, so playlists can be rebuilt (e.g. signed)


@dataclass(frozen=True)
class TranscodeResult:
    duration_s: float
    sample_rate: int  # of the renditions (44.1 kHz)
    frames: int  # per channel at `sample_rate`
    source_sample_rate: int
    source_channels: int
    source_frames: int  # per channel as decoded at the source's rate
    source_format: str
    decoder: str  # "soundfile" or "ffmpeg"
    loudness: Loudness
    renditions: tuple[RenditionResult, ...]
    notices: tuple[str, ...] = field(default=())
