"""IIR filtering of consecutive blocks with numpy alone: the recursion as small matrix products.

numpy has no recursive filter, and scipy's (`scipy.signal.sosfilt`) comes with an import of
all of `scipy.signal`: about 0.6 s of CPU and 80 MiB per process, more than the filter itself
costs on a 5-minute track. A linear filter is a linear map, so a chunk of `CHUNK` samples is

    y = T x + O s        (T: the impulse response as a lower-triangular Toeplitz matrix,
    s' = C x + M s        O, C, M: how the state s at the chunk's start shows in y and in s')

and the states at the chunk boundaries follow from one another by a log-depth scan. The result
is the recursion's to rounding (tests/audio/test_iir.py holds it to scipy's `sosfilt`).
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
_Float = TypeVar("_Float", np.float32, np.float64)

CHUNK = 64
# OpenBLAS runs a matrix product in the calling thread when m * n * k is at most this; above it,
# its worker threads take part and spin while they wait, which cost several times the product's
# own CPU on a machine whose cores are already busy (as in a transcode). Products are split into
# row groups below the limit.
_SINGLE_THREAD_MNK = 65536 * 4


def _state_space(sos: F64) -> tuple[F64, F64, F64, float]:
    """(A, B, C, D) of a cascade of transposed direct-form II biquads, the state being each
    section's two delays in turn (the layout of `sosfilt`'s `zi` for one channel):
    state' = A state + B x, y = C state + D x."""
    size = 2 * len(sos)
    a = np.zeros((size, size))
    b = np.zeros(size)
    # The input of the current section is u = c . state + d x (the cascade's input at first).
    c = np.zeros(size)
    d = 1.0
    for i, (b0, b1, b2, a0, a1, a2) in enumerate(sos):
        b0, b1, b2, a1, a2 = b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0
        j = 2 * i
        # v = b0 u + z0;  z0' = b1 u - a1 v + z1;  z1' = b2 u - a2 v
        a[j] = (b1 - a1 * b0) * c
        a[j + 1] = (b2 - a2 * b0) * c
        a[j, j], a[j, j + 1], a[j + 1, j] = -a1, 1.0, -a2
        b[j], b[j + 1] = (b1 - a1 * b0) * d, (b2 - a2 * b0) * d
        c = b0 * c
        c[j] += 1.0
        d *= b0
    return a, b, c, d


def product_in_calling_thread(
    rows: npt.NDArray[_Float], matrix: npt.NDArray[_Float], out: npt.NDArray[_Float]
) -> None:
    """out = rows @ matrix for (n, k) rows, in row groups each run in the calling thread."""
    k, n = matrix.shape
    group = max(1, _SINGLE_THREAD_MNK // (k * n))
    whole = len(rows) // group * group
    if whole:
        np.matmul(rows[:whole].reshape(-1, group, k), matrix, out=out[:whole].reshape(-1, group, n))
    if whole < len(rows):
        np.matmul(rows[whole:], matrix, out=out[whole:])


class BlockFilter:
    """A cascade of second-order sections (scipy's `sos` layout: rows b0 b1 b2 a0 a1 a2) run
    over (channels, frames) blocks in order, each channel with its own state.

    Work buffers are kept and reused from block to block: allocating a few MiB afresh for each
    block made the kernel zero-fill them again every time (worker-thread heaps are handed back
    to it as soon as they are free), which cost more system time than the filter's arithmetic.
    """

    def __init__(self, sos: npt.ArrayLike, channels: int) -> None:
        a, b, c, d = _state_space(np.asarray(sos, dtype=np.float64).reshape(-1, 6))
        size = len(a)
        powers = [np.eye(size)]
        for _ in range(CHUNK):
            powers.append(a @ powers[-1])
        self._a_powers = np.stack(powers)  # A^0 .. A^CHUNK
        impulse = np.array([d] + [c @ powers[k] @ b for k in range(CHUNK - 1)])
        toeplitz = np.zeros((CHUNK, CHUNK))
        for row in range(CHUNK):
            toeplitz[row, : row + 1] = impulse[row::-1]
        # As right-hand factors of row vectors: a chunk's row holds its input, then the state
        # it starts in; one product gives its output.
        self._output = np.concatenate(
            [toeplitz.T, np.stack([c @ powers[k] for k in range(CHUNK)], axis=1)]
        )
        self._to_state = np.stack([powers[CHUNK - 1 - j] @ b for j in range(CHUNK)])
        self._m_powers = [powers[CHUNK].T]  # (M^(2^i))^T for the scan
        self.channels = channels
        self.state = np.zeros((channels, size))
        self._rows = np.zeros((0, CHUNK + size))
        self._ends = np.zeros((0, size))
        self._chunks_out = np.zeros((0, CHUNK))
        self._y = np.zeros(0)

    def process(self, x: npt.ArrayLike) -> F64:
        """Filter (channels, frames) samples that follow the last block.

        The result (float64, channels by frames) is a view of the filter's own buffer: the
        next call overwrites it.
        """
        samples = np.asarray(x)
        channels, frames = samples.shape
        size = len(self.state[0])
        chunks, rest = divmod(frames, CHUNK)
        count = channels * chunks
        if len(self._rows) < count:
            self._rows = np.empty((count, CHUNK + size))
            self._ends = np.empty((count, size))
            self._chunks_out = np.empty((count, CHUNK))
        if len(self._y) < channels * frames:
            self._y = np.empty(channels * frames)
        y = self._y[: channels * frames].reshape(channels, frames)
        if chunks:
            rows = self._rows[:count]
            # The samples, converted to float64 in the same pass.
            rows.reshape(channels, chunks, -1)[..., :CHUNK] = samples[:, : chunks * CHUNK].reshape(
                channels, chunks, CHUNK
            )
            # Each chunk's input carried to the state at its end; then the state before the
            # block carried along, by a scan: ends[k] = M ends[k-1] + own[k].
            ends = self._ends[:count]
            product_in_calling_thread(rows[:, :CHUNK], self._to_state, ends)
            per_channel = ends.reshape(channels, chunks, size)
            per_channel[:, 0] += self.state @ self._m_powers[0]
            step, level = 1, 0
            while step < chunks:
                if level == len(self._m_powers):
                    self._m_powers.append(self._m_powers[-1] @ self._m_powers[-1])
                per_channel[:, step:] += per_channel[:, :-step] @ self._m_powers[level]
                step, level = step * 2, level + 1
            starts = rows.reshape(channels, chunks, -1)[..., CHUNK:]
            starts[:, 0] = self.state
            starts[:, 1:] = per_channel[:, :-1]
            self.state = per_channel[:, -1].copy()
            if rest:  # the chunks' rows are not contiguous in y: through a buffer of their own
                product_in_calling_thread(rows, self._output, self._chunks_out[:count])
                y[:, : chunks * CHUNK] = self._chunks_out[:count].reshape(channels, -1)
            else:
                product_in_calling_thread(rows, self._output, y.reshape(count, CHUNK))
        if rest:
            tail = samples[:, chunks * CHUNK :]
            y[:, chunks * CHUNK :] = (
                tail @ self._output[:rest, :rest] + self.state @ self._output[CHUNK:, :rest]
            )
            self.state = self.state @ self._a_powers[rest].T + tail @ self._to_state[CHUNK - rest :]
        return y
