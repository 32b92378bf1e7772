"""The chunked IIR filter is the recursion itself: scipy's sosfilt (with carried state) as truth."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy import signal

from veza.audio.iir import CHUNK, BlockFilter
from veza.audio.loudness import k_weighting_sos

# Block lengths around the chunk size (empty, shorter, exact, longer) and the pipeline's own.
LENGTHS = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 1000, 65536, 7, 2 * CHUNK, 44100, 5]


def filtered_in_blocks(sos: np.ndarray, x: np.ndarray, lengths: list[int]) -> np.ndarray:
    block_filter = BlockFilter(sos, len(x))
    out, at = [], 0
    for n in [*lengths, len(x[0])]:
        out.append(block_filter.process(x[:, at : at + n]).copy())  # a view of its buffer
        at += n
    return np.concatenate(out, axis=1)


@pytest.mark.parametrize("rate", [8000, 44100, 48000, 96000, 192000])
def test_k_weighting_matches_sosfilt(rate: int) -> None:
    sos = k_weighting_sos(rate)
    x = np.random.default_rng(rate).standard_normal((2, 250_000)).astype(np.float32)
    expected = signal.sosfilt(sos, x.astype(np.float64), axis=-1)
    got = filtered_in_blocks(sos, x, LENGTHS)
    assert np.max(np.abs(got - expected)) < 1e-9 * np.max(np.abs(expected))


def test_any_stable_cascade_and_channel_count() -> None:
    rng = np.random.default_rng(1)
    sos = np.concatenate(
        [
            signal.butter(4, 0.1, output="sos"),  # two sections
            signal.cheby1(2, 1.0, [0.2, 0.5], btype="band", output="sos"),  # two more
        ]
    )
    x = rng.standard_normal((5, 30_000))
    expected = signal.sosfilt(sos, x, axis=-1)
    got = filtered_in_blocks(sos, x, [300, 1, 4096, 63])
    assert np.max(np.abs(got - expected)) < 1e-9 * np.max(np.abs(expected))


def test_state_carries_over_silence_into_the_next_block() -> None:
    sos = k_weighting_sos(44100)
    x = np.zeros((1, 10_000))
    x[0, 0] = 1.0
    expected = signal.sosfilt(sos, x, axis=-1)
    got = filtered_in_blocks(sos, x, [1, 999, 3])  # an impulse alone, then its ringing
    assert np.max(np.abs(got - expected)) < 1e-12


def test_products_stay_in_the_calling_thread() -> None:
    """OpenBLAS's worker threads spin while they wait for work: letting them into the products
    cost several times the filter's own CPU on a busy machine (see veza/audio/iir.py)."""
    block_filter = BlockFilter(k_weighting_sos(44100), 2)
    x = np.random.default_rng(2).standard_normal((2, 1 << 16)).astype(np.float32)
    block_filter.process(x)  # buffers allocated
    process, thread = time.process_time(), time.thread_time()
    for _ in range(40):  # ungrouped, the process used 2-3 times this thread's CPU
        block_filter.process(x)
    process, thread = time.process_time() - process, time.thread_time() - thread
    assert process < 1.3 * thread + 0.01
