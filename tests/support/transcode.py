"""The pipeline for tests: a transcode with options given as keywords."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import trio

from veza.audio.ladder import DEFAULT_LADDER, Rendition
from veza.transcode import TranscodeOptions, TranscodeResult, transcode


async def run_transcode(
    source: Path, out: Path, ladder: Sequence[Rendition] = DEFAULT_LADDER, **options: object
) -> TranscodeResult:
    return await transcode(
        source,
        out,
        ladder=ladder,
        options=TranscodeOptions(**options),  # type: ignore[arg-type]
        limiter=trio.CapacityLimiter(2),
    )
