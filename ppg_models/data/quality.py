"""Per-window signal-quality features, vectorised over windows.

Features per channel (names are ``{channel}_{feature}`` in ``batch_quality``):

- ``missing_frac``: share of NaN samples;
- ``flat_frac``: share of samples inside runs of identical values lasting at least ``FLAT_RUN_S``;
- ``clipped_frac``: share of samples held at the window's maximum or minimum for at least
  ``CLIP_MIN_SAMPLES`` consecutive samples (a converter rail or a saturated amplifier);
- ``perfusion_index``: pulsatile over static component, in percent (2 sqrt(2) SD of the cardiac band
  over the mean level);
- ``skewness``: of the cardiac-band signal (Elgendi 2016: the best single PPG quality index);
- ``cardiac_power_ratio``: share of 0.1-8 Hz power that lies in the cardiac band 0.6-3.5 Hz.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import stats

from ppg_models import dsp
from ppg_models.data.arrays import group_by_length, to_matrix
from ppg_models.tasks import CHANNELS

FLAT_RUN_S = 0.25
CLIP_MIN_SAMPLES = 3
CARDIAC_BAND = (0.6, 3.5)
FEATURES = ("missing_frac", "flat_frac", "clipped_frac", "perfusion_index", "skewness", "cardiac_power_ratio")


def _flat_fraction(x: np.ndarray, run: int) -> np.ndarray:
    """Share of samples covered by runs of >= ``run`` identical consecutive samples."""
    same = np.diff(x, axis=1) == 0  # (n, L-1)
    width = run - 1
    if width < 1 or same.shape[1] < width:
        return np.zeros(x.shape[0])
    csum = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(same, axis=1)], axis=1)
    full = (csum[:, width:] - csum[:, :-width]) == width  # run of `run` samples starts at i
    starts = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(full, axis=1)], axis=1)
    n_samples = x.shape[1]
    idx = np.arange(n_samples)
    lo = np.clip(idx - width, 0, full.shape[1])  # sample j is covered if a run starts in [j-width, j]
    hi = np.clip(idx + 1, 0, full.shape[1])
    covered = (starts[:, hi] - starts[:, lo]) > 0
    return covered.mean(axis=1)


def _clipped_fraction(x: np.ndarray) -> np.ndarray:
    """Share of samples held at the window's maximum or minimum for CLIP_MIN_SAMPLES in a row."""
    covered = np.zeros(x.shape, bool)
    k = CLIP_MIN_SAMPLES
    for extreme in (np.nanmax(x, axis=1), np.nanmin(x, axis=1)):
        at = np.isclose(x, extreme[:, None], rtol=0, atol=1e-6 * np.maximum(1.0, np.abs(extreme))[:, None])
        run = np.ones((x.shape[0], x.shape[1] - k + 1), bool)
        for i in range(k):
            run &= at[:, i : x.shape[1] - k + 1 + i]
        for i in range(k):
            covered[:, i : x.shape[1] - k + 1 + i] |= run
    return covered.mean(axis=1)


def quality_features(x: np.ndarray, fs: float) -> dict[str, np.ndarray]:
    """Quality features of each row of ``x`` (windows, samples) sampled at ``fs`` Hz."""
    x = np.asarray(x, dtype=np.float64)
    missing = np.isnan(x).mean(axis=1)
    all_missing = missing == 1.0
    filled = dsp.fill_missing(x)
    with np.errstate(all="ignore"):
        flat = _flat_fraction(filled, max(2, round(FLAT_RUN_S * fs)))
        clipped = np.where(all_missing, 0.0, _clipped_fraction(np.where(all_missing[:, None], 0.0, x)))
        cardiac = dsp.bandpass(filled, fs, *CARDIAC_BAND)
        level = np.abs(filled.mean(axis=1))
        perfusion = np.where(
            level > 0, 100 * 2 * np.sqrt(2) * cardiac.std(axis=1) / np.where(level > 0, level, 1), 0.0
        )
        skew = np.nan_to_num(stats.skew(cardiac, axis=1), nan=0.0)
    power = dsp.band_power_ratio(filled, fs, CARDIAC_BAND, (0.1, 8.0))
    feats = {
        "missing_frac": missing,
        "flat_frac": flat,
        "clipped_frac": clipped,
        "perfusion_index": perfusion,
        "skewness": skew,
        "cardiac_power_ratio": power,
    }
    for name in FEATURES[1:]:
        feats[name] = np.where(all_missing, np.nan, feats[name])
    return feats


def batch_quality(table: pa.Table) -> pd.DataFrame:
    """Quality features for every window and present channel of a batch, indexed by ``window_id``.

    Windows are grouped by signal length so each group is processed as one matrix; a channel that a
    window lacks gives NaN features.
    """
    n = table.num_rows
    fs_all = table.column("fs").to_numpy()
    columns: dict[str, np.ndarray] = {}
    for channel in CHANNELS:
        values = table.column(channel).combine_chunks()
        if values.null_count == n:
            continue
        out = {f: np.full(n, np.nan) for f in FEATURES}
        for _, rows in group_by_length(values).items():
            for fs in np.unique(fs_all[rows]):
                sel = rows[fs_all[rows] == fs]
                feats = quality_features(to_matrix(values.take(pa.array(sel))), float(fs))
                for f in FEATURES:
                    out[f][sel] = feats[f]
        columns.update({f"{channel}_{f}": v for f, v in out.items()})
    index = pd.Index(table.column("window_id").to_pylist(), name="window_id")
    return pd.DataFrame(columns, index=index)
