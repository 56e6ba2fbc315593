"""Things that corrupt real PPG: motion, baseline drift, sensor noise, quantization and clipping."""

from __future__ import annotations

import numpy as np


def band_noise(
    n: int, n_samples: int, fs: float, band: tuple[float, float], rng: np.random.Generator
) -> np.ndarray:
    """White noise filtered to ``band`` (Hz) in the frequency domain, unit standard deviation per row."""
    spectrum = np.fft.rfft(rng.standard_normal((n, n_samples)), axis=1)
    freqs = np.fft.rfftfreq(n_samples, 1 / fs)
    spectrum[:, (freqs < band[0]) | (freqs > band[1])] = 0
    x = np.fft.irfft(spectrum, n=n_samples, axis=1)
    return x / (x.std(axis=1, keepdims=True) + 1e-12)


def _bursts(n: int, t: np.ndarray, count: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Envelope in [0, 1] with ``count[i]`` smooth bursts of 0.8-3 s at random times in row i."""
    envelope = np.zeros((n, t.size))
    for j in range(int(count.max(initial=0))):
        active = (count > j)[:, None]
        centre = rng.uniform(0, t[-1], (n, 1))
        half = rng.uniform(0.4, 1.5, (n, 1))
        rise = np.clip(1 - np.abs(t[None, :] - centre) / half, 0, 1)
        envelope = np.maximum(envelope, np.where(active, np.sin(rise * np.pi / 2) ** 2, 0))
    return envelope


def motion(level: np.ndarray, fs: float, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Relative intensity change from movement: (windows, samples), zero where level is 0 (none).

    Low motion: one or two bursts of fidgeting. High motion (walking): a periodic component at the
    arm-swing cadence, which falls in the cardiac band, plus several bursts.
    """
    out = np.zeros((level.size, n_samples))
    moving = np.flatnonzero(level > 0)
    if moving.size == 0:
        return out
    m = moving.size
    t = np.arange(n_samples) / fs
    high = level[moving] == 2
    count = np.where(high, rng.integers(2, 5, m), rng.integers(1, 3, m))
    artifact = band_noise(m, n_samples, fs, (0.3, 4.0), rng) * _bursts(m, t, count, rng)
    cadence = rng.uniform(1.3, 2.6, (m, 1))
    swing = np.sin(2 * np.pi * cadence * t[None, :] + rng.uniform(0, 6.3, (m, 1)))
    swing *= 1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.05, 0.2, (m, 1)) * t[None, :])
    artifact += np.where(high[:, None], rng.uniform(0.4, 1.2, (m, 1)) * swing, 0.0)
    out[moving] = artifact
    return out


def drift(n: int, fs: float, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Slow baseline wander (thermal, contact pressure): two very-low-frequency sinusoids, unit scale."""
    t = np.arange(n_samples) / fs
    out = np.zeros((n, n_samples))
    for _ in range(2):
        f = rng.uniform(0.01, 0.08, (n, 1))
        out += rng.uniform(0, 1, (n, 1)) * np.sin(2 * np.pi * f * t[None, :] + rng.uniform(0, 6.3, (n, 1)))
    return out


def digitise(
    intensity: np.ndarray, full_scale: float, noise_counts: float, rng: np.random.Generator
) -> np.ndarray:
    """Add electronic noise, quantize to ADC counts and clip at the converter's rails."""
    noisy = intensity + rng.normal(0, noise_counts, intensity.shape)
    return np.clip(np.rint(noisy), 0, full_scale).astype(np.float32)
