"""Streaming sample-rate conversion with soxr, block by block."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import soxr

Block = npt.NDArray[np.float32]


class Resampler:
    """Converts consecutive (frames, channels) float32 blocks; a no-op when the rates match."""

    def __init__(self, in_rate: int, out_rate: int, channels: int, quality: str = "HQ") -> None:
        self.in_rate, self.out_rate, self.channels = in_rate, out_rate, channels
        self._stream = (
            None
            if in_rate == out_rate
            else soxr.ResampleStream(in_rate, out_rate, channels, dtype="float32", quality=quality)
        )

    def process(self, block: Block, *, last: bool = False) -> Block:
        if self._stream is None:
            return block
        out: Block = self._stream.resample_chunk(np.ascontiguousarray(block), last=last)
        return out.reshape(-1, self.channels)
