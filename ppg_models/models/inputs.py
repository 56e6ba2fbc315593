"""The model's input pipeline: batches as they come (any supported rate, any channel subset) to tensors.

Every channel is resampled to ``MODEL_FS`` and fitted to ``WINDOW_SAMPLES``, then divided by its own
mean level: ``rel = 100 (x / mean(x) - 1)``, the pulsatile signal in percent of the static one. This
keeps the red/infrared ratio of ratios (SpO2) intact and makes the input independent of gain and
amplitude scaling. A fourth channel is the z-scored pulse of the best available channel (IR, then
green, then red) for timing tasks. Missing channels are zeros with a presence flag of 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pyarrow as pa
from scipy import signal

from ppg_models import dsp
from ppg_models.data.arrays import group_by_length, to_matrix
from ppg_models.tasks import CHANNELS, PULSE_PREFERENCE

MODEL_FS = 125.0
WINDOW_SAMPLES = 1250  # 10 s
INPUT_CHANNELS = (*CHANNELS, "pulse")  # (batch, 4, 1250): red, ir, green relative %, pulse z-score
REL_CLIP = 50.0


@dataclass(frozen=True)
class ModelInputs:
    x: np.ndarray  # (windows, 4, WINDOW_SAMPLES) float32
    present: np.ndarray  # (windows, 3) bool, per CHANNELS


def _to_model_rate(x: np.ndarray, fs: float) -> np.ndarray:
    """(n, samples) at ``fs`` -> (n, WINDOW_SAMPLES) at MODEL_FS (cropped or edge-padded)."""
    x = dsp.fill_missing(x)
    if fs != MODEL_FS:
        ratio = Fraction(MODEL_FS / fs).limit_denominator(1000)
        x = signal.resample_poly(x, ratio.numerator, ratio.denominator, axis=1, padtype="line")
    if x.shape[1] >= WINDOW_SAMPLES:
        return x[:, :WINDOW_SAMPLES]
    return np.pad(x, ((0, 0), (0, WINDOW_SAMPLES - x.shape[1])), mode="edge")


def relative_signal(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pulsatile part in percent of the mean level, and whether the level was usable (> 0)."""
    level = x.mean(axis=1, keepdims=True)
    usable = level[:, 0] > 0
    rel = 100.0 * (x / np.where(usable[:, None], level, 1.0) - 1.0)
    return np.clip(np.where(usable[:, None], rel, 0.0), -REL_CLIP, REL_CLIP), usable


def _zscore(x: np.ndarray) -> np.ndarray:
    centred = signal.detrend(x, axis=1)
    return centred / (centred.std(axis=1, keepdims=True) + 1e-6)


def prepare_inputs(table: pa.Table) -> ModelInputs:
    """Tensors for the model from a batch table (rows in table order)."""
    n = table.num_rows
    x = np.zeros((n, len(INPUT_CHANNELS), WINDOW_SAMPLES), np.float32)
    present = np.zeros((n, len(CHANNELS)), bool)
    fs_all = table.column("fs").to_numpy()
    for c, channel in enumerate(CHANNELS):
        column = table.column(channel).combine_chunks()
        if column.null_count == n:
            continue
        for _, rows in group_by_length(column).items():
            for fs in np.unique(fs_all[rows]):
                sel = rows[fs_all[rows] == fs]
                resampled = _to_model_rate(
                    to_matrix(column.take(pa.array(sel))).astype(np.float64), float(fs)
                )
                rel, usable = relative_signal(resampled)
                x[sel, c] = rel
                present[sel, c] = usable
    for channel in reversed(PULSE_PREFERENCE):  # best channel wins: written last
        c = CHANNELS.index(channel)
        rows = np.flatnonzero(present[:, c])
        if rows.size:
            x[rows, -1] = _zscore(-x[rows, c].astype(np.float64))  # beats point up
    return ModelInputs(x=x, present=present)
