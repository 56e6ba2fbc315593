"""Signal-processing primitives shared by quality features, baselines and importers.

All functions take (windows, samples) matrices at one sampling rate and work row-wise.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy import signal


def fill_missing(x: np.ndarray) -> np.ndarray:
    """Copy of ``x`` with NaN samples linearly interpolated per row (all-NaN rows become zeros)."""
    out = np.array(x, dtype=np.float64, copy=True)
    bad_rows = np.flatnonzero(np.isnan(out).any(axis=1))
    idx = np.arange(out.shape[1])
    for r in bad_rows:
        row = out[r]
        ok = ~np.isnan(row)
        out[r] = np.interp(idx, idx[ok], row[ok]) if ok.any() else 0.0
    return out


def resample(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Rows of ``x`` from ``fs_in`` to ``fs_out`` (gaps interpolated first, ``fill_missing``), polyphase,
    with each row's mean taken out first and put back after. The polyphase branches of
    ``resample_poly`` do not pass DC with exactly equal gain: on raw PPG (a level of ~28,000 counts over
    a pulse of ~200) 125 -> 128 -> 125 Hz left a ripple of 14 % of the pulse, enough to add or drop a
    beat in 5 % of windows."""
    x = fill_missing(x)
    if fs_in == fs_out:
        return x
    ratio = Fraction(fs_out / fs_in).limit_denominator(1000)
    level = x.mean(axis=-1, keepdims=True)
    y = signal.resample_poly(x - level, ratio.numerator, ratio.denominator, axis=-1, padtype="line")
    return y + level


def bandpass(x: np.ndarray, fs: float, low: float, high: float, order: int = 2) -> np.ndarray:
    """Zero-phase Butterworth band-pass along the last axis (edges clamped to the Nyquist range)."""
    nyquist = fs / 2
    high = min(high, 0.95 * nyquist)
    sos = signal.butter(order, [low / nyquist, high / nyquist], btype="bandpass", output="sos")
    return signal.sosfiltfilt(sos, x, axis=-1)


def lowpass(x: np.ndarray, fs: float, cutoff: float, order: int = 2) -> np.ndarray:
    sos = signal.butter(order, cutoff / (fs / 2), btype="lowpass", output="sos")
    return signal.sosfiltfilt(sos, x, axis=-1)


def dominant_frequency(x: np.ndarray, fs: float, low: float, high: float, pad_to: int = 8192) -> np.ndarray:
    """Frequency (Hz) of the largest spectral peak inside [low, high] per row, refined by parabola.

    Rows are mean-removed and linearly detrended; zero padding gives a fine grid.
    """
    y = signal.detrend(x, axis=-1, type="linear")
    n = max(pad_to, y.shape[-1])
    power = np.abs(np.fft.rfft(y, n=n, axis=-1)) ** 2
    freqs = np.fft.rfftfreq(n, 1 / fs)
    band = np.flatnonzero((freqs >= low) & (freqs <= high))
    k = band[np.argmax(power[:, band], axis=1)]
    k = np.clip(k, 1, power.shape[1] - 2)
    rows = np.arange(power.shape[0])
    a, b, c = power[rows, k - 1], power[rows, k], power[rows, k + 1]
    denom = a - 2 * b + c
    shift = np.where(np.abs(denom) > 0, 0.5 * (a - c) / np.where(denom == 0, 1, denom), 0.0)
    return (k + np.clip(shift, -0.5, 0.5)) * fs / n


def quantile_skew(x: np.ndarray) -> np.ndarray:
    """Robust skewness per row, (q98 + q2 - 2 median) / (q98 - q2): negative for a pulse whose beats are
    dips (raw light intensity), positive for beats as peaks. The orientation step of inputs and
    baselines."""
    q2, q50, q98 = np.percentile(x, [2, 50, 98], axis=-1)
    return (q98 + q2 - 2 * q50) / np.maximum(q98 - q2, 1e-12)


PI_RANGE = (0.02, 20.0)  # percent: a physical DC level carries a cardiac pulse of this relative size


def perfusion_index(level: np.ndarray, cardiac_band: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Perfusion index (cardiac peak-to-peak amplitude in % of the mean level) per row, and whether the
    level is physical: positive, with an index inside ``PI_RANGE``. AC-coupled or rescaled exports have
    no physical level, and nothing that needs one (SpO2's ratio of ratios) may use them."""
    amplitude = 2 * np.sqrt(2) * cardiac_band.std(axis=-1)
    pi = 100.0 * amplitude / np.where(level > 0, level, 1.0)
    return pi, (level > 0) & (pi >= PI_RANGE[0]) & (pi <= PI_RANGE[1])
