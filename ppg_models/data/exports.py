"""What device and database exports do to a PPG signal, applied to batch tables.

Real recordings reach the platform AC-coupled (zero-mean), in arbitrary units, inverted, with baseline
wander, at other sampling rates, quantised, or with one channel, and often several at once (a
monitor's PLETH waveform: IR only, AC-coupled, beats as peaks). These transforms reproduce each on
simulated windows: the robustness benchmark scores models under each, and training draws from them
(``augment``) so that a model expects the world, not only the simulator's raw light intensity.
Labels are untouched: none of these changes the physiology.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
from scipy import signal

from ppg_models import dsp
from ppg_models.data.arrays import to_matrix
from ppg_models.tasks import CHANNELS

Transform = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]


def _ac_coupled(x: np.ndarray, fs: float, rng: np.random.Generator) -> np.ndarray:
    """High-pass (0.3 Hz) and zero-mean, as monitors' pleth outputs and many databases store it."""
    return dsp.bandpass(dsp.fill_missing(x), fs, 0.3, 0.45 * fs)


def _gain(x: np.ndarray, fs: float, rng: np.random.Generator) -> np.ndarray:
    return x * 1000.0


def _inverted(x: np.ndarray, fs: float, rng: np.random.Generator) -> np.ndarray:
    """AC-coupled with beats as peaks (the usual display convention): level removed and sign flipped."""
    return -_ac_coupled(x, fs, rng)


def _wander(x: np.ndarray, fs: float, rng: np.random.Generator) -> np.ndarray:
    """A slow baseline drift (0.05-0.2 Hz) of about twice the pulse size, as sensor movement gives."""
    t = np.arange(x.shape[1]) / fs
    f = rng.uniform(0.05, 0.2, (x.shape[0], 1))
    phase = rng.uniform(0, 2 * np.pi, (x.shape[0], 1))
    size = 2.0 * np.nanstd(signal.detrend(dsp.fill_missing(x), axis=1), axis=1, keepdims=True)
    return x + size * np.sin(2 * np.pi * f * t + phase)


def _quantised(x: np.ndarray, fs: float, rng: np.random.Generator, bits: int = 12) -> np.ndarray:
    """A 12-bit converter whose range spans four times the window's own range (coarse steps)."""
    lo, hi = np.nanmin(x, axis=1, keepdims=True), np.nanmax(x, axis=1, keepdims=True)
    span = np.maximum(hi - lo, 1e-9) * 4.0
    step = span / (2**bits)
    return np.round((x - lo) / step) * step + lo


def _rate_transform(fs_out: float) -> Callable[[pa.Table, np.random.Generator], pa.Table]:
    def apply(table: pa.Table, rng: np.random.Generator) -> pa.Table:
        return resample_table(table, fs_out)

    return apply


def _only(channel: str) -> Callable[[pa.Table, np.random.Generator], pa.Table]:
    def apply(table: pa.Table, rng: np.random.Generator) -> pa.Table:
        for other in CHANNELS:
            if other != channel:
                i = table.schema.get_field_index(other)
                table = table.set_column(
                    i, table.schema.field(i), pa.nulls(table.num_rows, table.schema.field(i).type)
                )
        return table

    return apply


def _chain(*names: str) -> Callable[[pa.Table, np.random.Generator], pa.Table]:
    """Several exports one after the other, as one real export combines them."""

    def apply(table: pa.Table, rng: np.random.Generator) -> pa.Table:
        for name in names:
            table = apply_export(table, name, int(rng.integers(2**31)))
        return table

    return apply


SIGNAL_TRANSFORMS: dict[str, Transform] = {
    "ac_coupled": _ac_coupled,
    "gain_x1000": _gain,
    "inverted": _inverted,
    "baseline_wander": _wander,
    "quantised_12bit": _quantised,
}
TABLE_TRANSFORMS = {
    **{f"rate_{int(r)}hz": _rate_transform(r) for r in (100.0, 117.0, 128.0, 256.0, 500.0)},
    "only_ir": _only("ir"),
    "only_green": _only("green"),
    # a bedside monitor's or a waveform database's PLETH (MIMIC, BIDMC): one channel, AC-coupled, beats up
    "monitor_pleth": _chain("only_ir", "inverted"),
}
EXPORTS = (*SIGNAL_TRANSFORMS, *TABLE_TRANSFORMS)


def _map_channels(table: pa.Table, fn: Callable[[np.ndarray, float], np.ndarray]) -> pa.Table:
    fs_all = table.column("fs").to_numpy()
    for channel in CHANNELS:
        column = table.column(channel).combine_chunks()
        if column.null_count == table.num_rows:
            continue
        rows_out: list[np.ndarray | None] = [None] * table.num_rows
        valid = np.flatnonzero(~np.asarray(column.is_null()))
        for fs in np.unique(fs_all[valid]):
            sel = valid[fs_all[valid] == fs]
            matrix = to_matrix(column.take(pa.array(sel))).astype(np.float64)
            for i, row in zip(sel, fn(matrix, float(fs)), strict=True):
                rows_out[i] = row.astype(np.float32)
        array = pa.array(
            [None if r is None else r.tolist() for r in rows_out], table.schema.field(channel).type
        )
        table = table.set_column(table.schema.get_field_index(channel), channel, array)
    return table


def resample_table(table: pa.Table, fs_out: float) -> pa.Table:
    """Every window resampled to ``fs_out`` (any rate: exports come at 117 or 500 Hz too)."""

    def resample(x: np.ndarray, fs: float) -> np.ndarray:
        return dsp.resample(x, fs, fs_out)

    out = _map_channels(table, resample)
    i = out.schema.get_field_index("fs")
    return out.set_column(i, out.schema.field(i), pa.array(np.full(out.num_rows, fs_out), pa.float64()))


def apply_export(table: pa.Table, name: str, seed: int = 0) -> pa.Table:
    """``table`` as the export ``name`` (one of EXPORTS) would have delivered it."""
    rng = np.random.default_rng(seed)
    if name in SIGNAL_TRANSFORMS:
        fn = SIGNAL_TRANSFORMS[name]
        return _map_channels(table, lambda x, fs: fn(x, fs, rng))
    if name in TABLE_TRANSFORMS:
        return TABLE_TRANSFORMS[name](table, rng)
    raise ValueError(f"unknown export transform {name!r}; known: {', '.join(EXPORTS)}")


#: Transforms training draws from (single-channel and resampling included; labels stay valid).
AUGMENTATIONS = ("ac_coupled", "gain_x1000", "inverted", "baseline_wander", "quantised_12bit", "rate_117hz",
                 "rate_256hz", "only_ir", "only_green")  # fmt: skip


def augment(table: pa.Table, fraction: float, seed: int) -> pa.Table:
    """``table`` with ``fraction`` of its windows replaced by one random export of themselves."""
    if fraction <= 0 or table.num_rows == 0:
        return table
    rng = np.random.default_rng(seed)
    chosen = rng.random(table.num_rows) < fraction
    kinds = rng.choice(len(AUGMENTATIONS), table.num_rows)
    pieces, order = [table.filter(pa.array(~chosen))], [np.flatnonzero(~chosen)]
    for k, name in enumerate(AUGMENTATIONS):
        rows = np.flatnonzero(chosen & (kinds == k))
        if rows.size:
            pieces.append(apply_export(table.take(pa.array(rows)), name, seed + k))
            order.append(rows)
    combined = pa.concat_tables(pieces)
    return combined.take(pa.array(np.argsort(np.concatenate(order))))
