"""What a transcode returns (TranscodeResult) or raises (TranscodeError)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

NOT_AUDIO = "not an audio file we can read"
EMPTY = "the file is empty"
NO_AUDIO_STREAM = "no audio stream"
TOO_SLOW = "reading the file took too long"
INTERNAL = "internal error"


class Fault(enum.Enum):
    """Whose the failure is: the file's (and which way), or ours."""

    NOT_AUDIO = "not_audio"  # not something we can read as audio at all
    EMPTY = "empty"
    DAMAGED = "damaged"  # a format we read, but broken
    INTERNAL = "internal"  # not the file's fault: an encoder, the disk, a missing program


class TranscodeError(Exception):
    """The source could not be turned into renditions.

    `reason` is for people (everyone who can see the track reads it): a short sentence with no
    path, memory address or library output. `detail` is for the operator's log and may carry
    all of those. Raised with a detail alone, the reason is "internal error": a raise site has
    to choose to tell people more, with one of the constructors below.
    """

    def __init__(
        self, detail: str, *, reason: str = INTERNAL, fault: Fault = Fault.INTERNAL
    ) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.fault = fault

    def __str__(self) -> str:
        return f"{self.reason} ({self.detail})" if self.detail != self.reason else self.reason

    @classmethod
    def not_audio(cls, detail: str, reason: str = NOT_AUDIO) -> TranscodeError:
        return cls(detail, reason=reason, fault=Fault.NOT_AUDIO)

    @classmethod
    def empty(cls) -> TranscodeError:
        return cls("zero bytes", reason=EMPTY, fault=Fault.EMPTY)

    @classmethod
    def damaged(cls, cause: str, detail: str) -> TranscodeError:
        """`cause` completes "the file is damaged: ..." in words of our own."""
        return cls(detail, reason=f"the file is damaged: {cause}", fault=Fault.DAMAGED)


@dataclass(frozen=True)
class Loudness:
    integrated_lufs: float | None  # None: nothing above the -70 LUFS gate (silence)
    true_peak_dbtp: float | None  # None: digital silence
    gain_db: float  # applied to the renditions (0.0 when gain is off)
    suggested_gain_db: float  # what the target and the ceiling ask for
    applied: bool  # the renditions carry `gain_db` (False: gain off)


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
    # Decoding the segments in order gives `priming_samples` (the encoder delay: 1024 for
    # FFmpeg's AAC, 576 + 529 for LAME's MP3 and the MPEG decoder), then the track's
    # `TranscodeResult.frames` samples, then `padding_samples`: a gapless player trims both.
    priming_samples: int
    padding_samples: int
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
