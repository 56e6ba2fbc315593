"""Per-window signal-quality features, vectorised over windows.

Features per channel (names are ``{channel}_{feature}`` in ``batch_quality``):

- ``missing_frac``: share of NaN samples;
- ``flat_frac``: share of samples inside runs of identical values lasting at least ``FLAT_RUN_S``;
- ``clipped_frac``: share of samples held at the window's maximum or minimum for at least
  ``CLIP_MIN_SAMPLES`` consecutive samples (a converter rail or a saturated amplifier);
- ``perfusion_index``: pulsatile over static component, in percent (2 sqrt(2) SD of the cardiac band
  over the mean level);
- ``skewness``: of the cardiac-band signal (Elgendi 2016: the best single PPG quality index);
- ``cardiac_power_ratio``: share of 0.1-8 Hz power that lies in the cardiac band 0.5-3.8 Hz (30-228 bpm);
- ``pulse_snr_db``: how far the pulse band (0.5-8 Hz: the pulse and its harmonics) stands above the
  broadband noise floor, mean power density over that of 8-40 Hz (or up to 0.45 fs), in dB; NaN below
  20 Hz. Simulated windows read a median of 21-33 dB per source and channel, whatever the offset, gain
  or polarity (the wrist band's weak red channel has the low tail: 0.1 % under 3.8 dB); white noise (a
  sensor off the skin, a flat signal with converter noise) reads 0 dB, SD about 0.6, and a window with
  no AC power at all 0 dB (``benchmarks/results/noise_floor.md``). Smooth noise (a random walk) and
  motion also lie below 8 Hz: this says a pulse *can* be there, not that it is.

The cardiac band is taken from one real FFT of the detrended window (an ideal band-pass), which also
gives the power ratio; runs are found from run-length edges, not sliding windows. Ingest computes these
for every window it validates, so they are written for speed (see benchmarks/ingest.py).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import fft as sfft

from ppg_models import dsp
from ppg_models.data.arrays import group_by_length, to_matrix
from ppg_models.data.quality_names import FEATURES
from ppg_models.data.schema import MIN_WINDOW_SECONDS
from ppg_models.tasks import CHANNELS

FLAT_RUN_S = 0.25
CLIP_MIN_SAMPLES = 3
CARDIAC_BAND = (0.5, 3.8)
TOTAL_BAND = (0.1, 8.0)
PULSE_BAND = (0.5, 8.0)  # Hz: the pulse and its harmonics
NOISE_FLOOR_TOP = 40.0  # Hz: the noise floor is read from PULSE_BAND's top to here (below 50/60 Hz mains)
CHUNK_ROWS = 256


def long_run_cover(mask: np.ndarray, k: int, extra: int = 0) -> np.ndarray:
    """Per row, how many elements lie in runs of at least ``k`` consecutive Trues of ``mask``.

    Each such run counts its length plus ``extra`` (a run of equal steps covers one more sample).
    """
    n, m = mask.shape
    padded = np.zeros((n, m + 2), np.int8)  # a False on each side keeps runs inside their row
    padded[:, 1:-1] = mask
    edges = np.diff(padded.ravel())
    changes = np.flatnonzero(edges)
    starts = changes[edges[changes] == 1]
    lengths = changes[edges[changes] == -1] - starts
    long = lengths >= k
    return np.bincount(starts[long] // (m + 2), weights=lengths[long] + extra, minlength=n)


def _flat_fraction(x: np.ndarray, run: int) -> np.ndarray:
    """Share of samples covered by runs of >= ``run`` identical consecutive samples."""
    out = np.zeros(x.shape[0])
    gap = min(max(1, run - 1), x.shape[1] - 1)
    first, mid = x[:, :-gap], x[:, gap // 2 : x.shape[1] - gap + gap // 2]
    rows = np.flatnonzero(((x[:, gap:] == first) & (mid == first)).any(axis=1))  # needs 3 equal: few rows
    if rows.size:
        sub = x[rows]
        steps = sub[:, 1:] == sub[:, :-1]  # x[i] == x[i+1]; r equal steps in a row cover r + 1 samples
        out[rows] = long_run_cover(steps, max(1, run - 1), extra=1) / x.shape[1]
    return out


def _clipped_fraction(x: np.ndarray) -> np.ndarray:
    """Share of samples held at the window's maximum or minimum for CLIP_MIN_SAMPLES in a row."""
    hi, lo = np.nanmax(x, axis=1, keepdims=True), np.nanmin(x, axis=1, keepdims=True)
    tol = 1e-6 * (hi - lo)  # of the window's own range: the same for any offset and unit (a pulse of
    # 20 uV in volts read as clipped at every peak when this was 1e-6 of max(1, |level|))
    at_rail = (x >= hi - tol) | (x <= lo + tol)
    held = at_rail[:, : 1 - CLIP_MIN_SAMPLES].copy()
    for i in range(1, CLIP_MIN_SAMPLES):
        held &= at_rail[:, i : x.shape[1] - CLIP_MIN_SAMPLES + 1 + i]
    out = np.zeros(x.shape[0])
    rows = np.flatnonzero(held.any(axis=1))  # windows with a rail run at all: few
    if rows.size:  # hi and lo runs only touch if the window is flat
        out[rows] = long_run_cover(at_rail[rows], CLIP_MIN_SAMPLES) / x.shape[1]
    return out


BAND_RATE_HZ = 25.0  # the cardiac band (<= 3.8 Hz) is rebuilt at this rate for its skewness


def _pulse_snr_db(power: np.ndarray, freqs: np.ndarray, fs: float) -> np.ndarray:
    """``pulse_snr_db`` from the power spectrum of the detrended rows (bin 0 holds the mean's power)."""
    top = min(NOISE_FLOOR_TOP, 0.45 * fs)
    if top < PULSE_BAND[1] + 2.0:
        return np.full(power.shape[0], np.nan)
    pulse = power[:, (freqs >= PULSE_BAND[0]) & (freqs <= PULSE_BAND[1])].mean(axis=1)
    floor = power[:, (freqs > PULSE_BAND[1]) & (freqs <= top)].mean(axis=1)
    has_ac = pulse + floor > 1e-12 * power[:, 0] + 1e-30  # else rounding noise of a flat line
    ratio = np.maximum(pulse, 1e-300) / np.maximum(floor, 1e-12 * pulse + 1e-300)  # at most 120 dB
    return np.where(has_ac, 10 * np.log10(ratio), 0.0)


def _spectral_features(
    filled: np.ndarray, fs: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cardiac-band SD, skewness, power ratio and pulse SNR from one FFT of the linearly detrended rows.

    The band's SD comes from Parseval; its skewness from the band rebuilt at ``BAND_RATE_HZ`` (an
    inverse FFT of only the low bins), which keeps the shape of a signal limited to 3.8 Hz.
    """
    n_samples = filled.shape[1]
    t = np.linspace(-1.0, 1.0, n_samples, dtype=np.float32)
    x = filled.astype(np.float32, copy=False)
    slope = (x @ t) / (t @ t)
    spectrum = sfft.rfft(x - slope[:, None] * t, axis=1)  # the mean only moves bin 0, which no band uses
    freqs = sfft.rfftfreq(n_samples, 1 / fs)
    high = min(CARDIAC_BAND[1], 0.95 * fs / 2)
    cardiac = (freqs >= CARDIAC_BAND[0]) & (freqs <= high)
    overall = (freqs >= TOTAL_BAND[0]) & (freqs <= TOTAL_BAND[1])
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float64)
    total = power[:, overall].sum(axis=1)
    in_band = power[:, cardiac].sum(axis=1)
    ratio = np.where(total > 0, in_band / np.where(total > 0, total, 1), 0.0)
    sd = np.sqrt(2 * in_band) / n_samples  # Parseval: mean square of the band-limited signal
    n_out = max(2 * (np.flatnonzero(cardiac)[-1] + 1), round(n_samples * min(1.0, BAND_RATE_HZ / fs)))
    kept = spectrum[:, : n_out // 2 + 1] * cardiac[: n_out // 2 + 1]
    band = sfft.irfft(kept, n=n_out, axis=1).astype(np.float64)  # a scaled copy: skewness ignores scale
    squared = band * band  # explicit products: ``**3`` goes through pow() and is 50x slower
    m2 = squared.mean(axis=1)
    m3 = (squared * band).mean(axis=1)
    skew = np.where(m2 > 0, m3 / np.where(m2 > 0, m2, 1) ** 1.5, 0.0)
    return sd, skew, ratio, _pulse_snr_db(power, freqs, fs)


def quality_features(x: np.ndarray, fs: float) -> dict[str, np.ndarray]:
    """Quality features of each row of ``x`` (windows, samples) sampled at ``fs`` Hz. Rows shorter than
    the contract's ``MIN_WINDOW_SECONDS`` (an empty list, a stray sample) or at a rate that is not a
    positive number have no usable signal: all of it counts as missing and the other features are NaN."""
    x = np.asarray(x, dtype=np.float64)
    if not (np.isfinite(fs) and fs > 0) or x.shape[1] < max(2 * CLIP_MIN_SAMPLES, MIN_WINDOW_SECONDS * fs):
        return {f: np.full(x.shape[0], 1.0 if f == "missing_frac" else np.nan) for f in FEATURES}
    nan = np.isnan(x)
    missing = nan.mean(axis=1)
    all_missing = missing == 1.0
    filled = dsp.fill_missing(x) if nan.any() else x
    with np.errstate(all="ignore"):
        flat = _flat_fraction(filled, max(2, round(FLAT_RUN_S * fs)))
        clipped = np.where(all_missing, 0.0, _clipped_fraction(np.where(all_missing[:, None], 0.0, x)))
        sd, skew, ratio, snr = _spectral_features(filled, fs)
        level = np.abs(filled.mean(axis=1))
        perfusion = np.where(level > 0, 100 * 2 * np.sqrt(2) * sd / np.where(level > 0, level, 1), 0.0)
    feats = {
        "missing_frac": missing,
        "flat_frac": flat,
        "clipped_frac": clipped,
        "perfusion_index": perfusion,
        "skewness": skew,
        "cardiac_power_ratio": ratio,
        "pulse_snr_db": snr,
    }
    for name in FEATURES[1:]:
        feats[name] = np.where(all_missing, np.nan, feats[name])
    return feats


def _groups(values: pa.ListArray, fs_all: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """Row indices of one signal length and one sampling rate, with that rate."""
    groups = []
    for _, rows in group_by_length(values).items():
        for fs in np.unique(fs_all[rows]):
            groups.append((rows[fs_all[rows] == fs], float(fs)))
    return groups


def _take(values: pa.ListArray, rows: np.ndarray) -> np.ndarray:
    if len(rows) == len(values):
        return to_matrix(values)  # rows are 0..n-1: no copy through take()
    return to_matrix(values.take(pa.array(rows)))


def batch_quality(table: pa.Table, workers: int = 1) -> pd.DataFrame:
    """Quality features for every window and present channel of a batch, indexed by ``window_id``.

    Windows are grouped by signal length and rate and processed ``CHUNK_ROWS`` at a time (matrices
    that fit in cache run 3-4x faster than one large one), on ``workers`` threads; a channel that a
    window lacks gives NaN features.
    """
    n = table.num_rows
    fs_all = table.column("fs").to_numpy()
    columns: dict[str, np.ndarray] = {}
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for channel in CHANNELS:
            values = table.column(channel).combine_chunks()
            if values.null_count == n:
                continue
            out = {f: np.full(n, np.nan) for f in FEATURES}
            for rows, fs in _groups(values, fs_all):
                x = _take(values, rows)  # (rows, samples) float32
                starts = range(0, len(rows), CHUNK_ROWS)
                chunks = pool.map(lambda i, x=x, fs=fs: quality_features(x[i : i + CHUNK_ROWS], fs), starts)
                for i, feats in zip(starts, chunks, strict=True):
                    for f in FEATURES:
                        out[f][rows[i : i + CHUNK_ROWS]] = feats[f]
            columns.update({f"{channel}_{f}": v for f, v in out.items()})
    index = pd.Index(table.column("window_id").to_pylist(), name="window_id")
    return pd.DataFrame(columns, index=index)
