"""Apply the DSP baselines to a batch table: one estimate per window and task they cover."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from ppg_models.baselines import estimators
from ppg_models.baselines.beats import detect_beats
from ppg_models.data.arrays import group_by_length, to_matrix
from ppg_models.tasks import CHANNELS, PULSE_PREFERENCE

#: Tasks with a DSP baseline. Blood pressure has none: it needs a learned model.
BASELINE_TASKS = ("hr", "spo2", "rr", "af")


def holds_signal(column: pa.ChunkedArray | pa.ListArray) -> np.ndarray:
    """Per row: the channel holds a signal, i.e. it is not null, has finite samples and is not constant.
    A disconnected LED exports zeros or NaN under the channel's name; the pulse is read elsewhere."""
    out = np.zeros(len(column), bool)
    for _, rows in group_by_length(column).items():
        x = to_matrix(column.take(pa.array(rows))).astype(np.float64)
        finite = np.isfinite(x)
        hi, lo = np.where(finite, x, -np.inf).max(axis=1), np.where(finite, x, np.inf).min(axis=1)
        out[rows] = finite.any(axis=1) & (hi > lo)
    return out


def _groups(table: pa.Table, signal: dict[str, np.ndarray]) -> dict[tuple[str, float, int], np.ndarray]:
    """Rows keyed by (pulse channel, fs, length) so that each group is one matrix. The pulse channel is
    the first of PULSE_PREFERENCE that holds a signal (``signal``: per channel, ``holds_signal``), as for
    the model's inputs."""
    lengths = {
        ch: table.column(ch).combine_chunks().value_lengths().fill_null(-1).to_numpy() for ch in CHANNELS
    }
    fs = table.column("fs").to_numpy()
    choice = np.full(table.num_rows, "", dtype=object)
    for ch in reversed(PULSE_PREFERENCE):
        choice = np.where(signal[ch], ch, choice)
    keys: dict[tuple[str, float, int], list[int]] = {}
    for i, ch in enumerate(choice):
        if ch:
            keys.setdefault((ch, float(fs[i]), int(lengths[ch][i])), []).append(i)
    return {k: np.asarray(v) for k, v in keys.items()}


def estimate_vitals(table: pa.Table) -> pd.DataFrame:
    """DSP estimates per window (NaN where the window lacks the channels a task needs)."""
    n = table.num_rows
    out = {task: np.full(n, np.nan) for task in BASELINE_TASKS}
    signal = {ch: holds_signal(table.column(ch)) for ch in CHANNELS}  # once per channel, not per group
    for (channel, fs, _), rows in _groups(table, signal).items():
        take = pa.array(rows)
        x = to_matrix(table.column(channel).take(take))
        beats = detect_beats(x, fs)
        out["hr"][rows] = estimators.heart_rate(beats)
        out["rr"][rows] = estimators.respiratory_rate(x, fs, beats)
        out["af"][rows] = estimators.af_probability(beats)
        red_col, ir_col = table.column("red").take(take), table.column("ir").take(take)
        has_both = signal["red"][rows] & signal["ir"][rows]
        if has_both.any():  # SpO2 needs red and IR
            both = pa.array(np.flatnonzero(has_both))
            red, ir = to_matrix(red_col.take(both)), to_matrix(ir_col.take(both))
            if red.shape == ir.shape:
                out["spo2"][rows[has_both]] = estimators.spo2_ratio_of_ratios(red, ir, fs)
    index = pd.Index(table.column("window_id").to_pylist(), name="window_id")
    return pd.DataFrame(out, index=index)
