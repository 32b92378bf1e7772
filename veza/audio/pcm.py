"""The house PCM format (float32 stereo at 44.1 kHz) and the conversion of any block into it."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from veza.audio.resample import Block, Resampler

SAMPLE_RATE = 44_100
CHANNELS = 2

_S = 0.7071067811865476  # -3 dB: ITU-R BS.775 weight of centre and surround channels

# Rows: source channel in WAVE/FFmpeg default order; columns: (left, right). LFE is dropped.
_DOWNMIX: dict[int, list[tuple[float, float]]] = {
    3: [(1, 0), (0, 1), (_S, _S)],  # L R C
    4: [(1, 0), (0, 1), (_S, 0), (0, _S)],  # L R Ls Rs (quad)
    5: [(1, 0), (0, 1), (_S, _S), (_S, 0), (0, _S)],  # L R C Ls Rs
    6: [(1, 0), (0, 1), (_S, _S), (0, 0), (_S, 0), (0, _S)],  # 5.1
    7: [(1, 0), (0, 1), (_S, _S), (0, 0), (_S, _S), (_S, 0), (0, _S)],  # 6.1: ... Cs Ls Rs
    8: [(1, 0), (0, 1), (_S, _S), (0, 0), (_S, 0), (0, _S), (_S, 0), (0, _S)],  # 7.1
}


def downmix_matrix(channels: int) -> npt.NDArray[np.float32]:
    """The (channels, 2) matrix taking a block to stereo."""
    if channels == 1:
        return np.ones((1, 2), dtype=np.float32)
    if channels == 2:
        return np.eye(2, dtype=np.float32)
    if channels in _DOWNMIX:
        return np.asarray(_DOWNMIX[channels], dtype=np.float32)
    # Unknown layouts: alternate channels left and right, at equal power.
    matrix = np.zeros((channels, 2), dtype=np.float32)
    matrix[0::2, 0] = 1.0
    matrix[1::2, 1] = 1.0
    return matrix * np.float32(np.sqrt(2.0 / channels))


def to_stereo(block: npt.NDArray[np.floating], channels: int) -> Block:
    """(frames, channels) -> (frames, 2) float32: mono duplicated, multichannel downmixed."""
    block = np.asarray(block, dtype=np.float32).reshape(-1, channels)
    if channels == 2:
        return block
    if channels == 1:
        return np.repeat(block, 2, axis=1)
    out: Block = block @ downmix_matrix(channels)
    return out


class Normaliser:
    """Any (frames, channels) block at any rate -> house format, keeping resampler state."""

    def __init__(self, sample_rate: int, channels: int) -> None:
        self.channels = channels
        self._resampler = Resampler(sample_rate, SAMPLE_RATE, CHANNELS)

    def process(self, block: npt.NDArray[np.floating], *, last: bool = False) -> Block:
        return self._resampler.process(to_stereo(block, self.channels), last=last)


def scaled(block: Block, gain: float = 1.0) -> Block:
    """`block` times a linear gain, as contiguous little-endian float32: the layout encoder
    children read, so `f32le_view` can hand it to a pipe without another copy."""
    if gain != 1.0:
        block = block * np.float32(gain)
    out: Block = np.ascontiguousarray(block, dtype="<f4")
    return out


def f32le_view(block: Block) -> memoryview:
    """The bytes of a block made by `scaled`, without copying them."""
    if block.dtype != np.dtype("<f4") or not block.flags.c_contiguous:
        raise ValueError("not a contiguous little-endian float32 block (see `scaled`)")
    return block.data.cast("B")


def to_f32le(block: Block, gain: float = 1.0) -> bytes:
    """Interleaved little-endian float32 bytes, the format encoder children read."""
    return scaled(block, gain).tobytes()
