"""Test audio made with numpy: tones, noise, clicks, and an aligned comparison of decoded audio."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]


def sine(
    freq: float,
    seconds: float,
    rate: int,
    *,
    level_db: float = 0.0,
    channels: int = 2,
    phase: float = 0.0,
) -> F32:
    """A sine whose peak is `level_db` dBFS, the same in every channel."""
    t = np.arange(round(seconds * rate)) / rate
    x = (10 ** (level_db / 20) * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)
    return np.repeat(x[:, None], channels, axis=1)


def music(seconds: float, rate: int = 44100, *, channels: int = 2, seed: int = 0) -> F32:
    """Music-like: a few tones with a slow envelope, a little noise, distinct channels."""
    rng = np.random.default_rng(seed)
    n = round(seconds * rate)
    t = np.arange(n) / rate
    out = np.zeros((n, channels), dtype=np.float64)
    for ch in range(channels):
        for k, freq in enumerate((220.0, 330.0, 440.0 * (1 + ch / 7), 1250.0)):
            envelope = 0.6 + 0.4 * np.sin(2 * np.pi * (0.3 + 0.1 * k) * t + ch)
            out[:, ch] += 0.12 * envelope * np.sin(2 * np.pi * freq * t + k)
        out[:, ch] += 0.003 * rng.standard_normal(n)
    return out.astype(np.float32)


def aligned(reference: F32, decoded: F32, *, max_lag: int = 4096) -> tuple[int, float]:
    """(lag, SNR dB) of `decoded` against `reference` after the best integer delay and gain."""
    ref = reference[:, 0].astype(np.float64)
    probe = ref[: min(len(ref), 44100)]
    dec = decoded[:, 0].astype(np.float64)
    scores = [
        np.dot(probe, dec[lag : lag + len(probe)]) if lag + len(probe) <= len(dec) else -1
        for lag in range(max_lag)
    ]
    lag = int(np.argmax(scores))
    return lag, snr(reference, decoded[lag:])


def fitted_gain(reference: F32, decoded: F32) -> float:
    """The gain that best maps `reference` onto `decoded` (least squares, all channels)."""
    n = min(len(reference), len(decoded))
    ref, dec = reference[:n].astype(np.float64), decoded[:n].astype(np.float64)
    return float(np.sum(ref * dec) / np.sum(ref * ref))


def snr(reference: F32, decoded: F32) -> float:
    n = min(len(reference), len(decoded))
    ref = reference[:n].astype(np.float64)
    dec = decoded[:n].astype(np.float64)
    gain = fitted_gain(ref, dec)
    noise = float(np.sum((dec - gain * ref) ** 2))
    if noise == 0.0:
        return float("inf")
    return float(10 * np.log10(np.sum((gain * ref) ** 2) / noise))
