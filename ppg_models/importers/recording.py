"""A continuous recording in memory, and its cutting into batch-format windows.

Importers for each file format build a ``Recording``; ``to_windows`` resamples it to the target rate,
cuts fixed-length windows and labels each window with the median of the reference numerics that fall
inside it. Numeric samples outside a task's valid range (monitors write 0 or -1 for "no reading") are
not used, and the ``ImportReport`` counts them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from ppg_models import dsp
from ppg_models.data.arrays import to_list_array
from ppg_models.data.schema import BATCH_SCHEMA, MIN_WINDOW_SECONDS, conform
from ppg_models.tasks import CHANNELS, TASKS, get_task

SUPPORTED_RATES = (100.0, 125.0, 250.0)


@dataclass
class Numeric:
    """A reference measurement series: sample times (s from recording start) and values."""

    times: np.ndarray
    values: np.ndarray


@dataclass
class Recording:
    name: str
    fs: float
    channels: dict[str, np.ndarray]  # channel name -> (samples,) float, NaN for missing samples
    labels: dict[str, Numeric] = field(default_factory=dict)  # task name -> reference series
    start: dt.datetime | None = None


@dataclass
class ImportReport:
    source_file: str
    windows: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    implausible_label_samples: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    window_starts_s: list[float] = field(default_factory=list)  # of the windows cut, from the first sample


def resample(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Polyphase resampling of a 1-D signal; gaps (NaN) stay gaps at the new rate."""
    if fs_in == fs_out:
        return np.asarray(x, dtype=np.float64)
    missing = np.isnan(x)
    y = dsp.resample(np.asarray(x, dtype=np.float64)[None, :], fs_in, fs_out)[0]
    if missing.any():
        src = np.minimum((np.arange(y.size) * fs_in / fs_out).round().astype(int), x.size - 1)
        y[missing[src]] = np.nan
    return y


def supported_rate(fs: float) -> float:
    """The rate a recording at ``fs`` is stored at: the lowest supported rate not below it (no detail
    lost), else the highest."""
    above = [r for r in SUPPORTED_RATES if r >= fs - 1e-9]
    return min(above) if above else max(SUPPORTED_RATES)


def _window_labels(
    numeric: Numeric, task: str, starts: np.ndarray, window_s: float, report: ImportReport
) -> np.ndarray:
    lo, hi = get_task(task).valid_range
    ok = np.isfinite(numeric.values) & (numeric.values >= lo) & (numeric.values <= hi)
    bad = int((~ok & np.isfinite(numeric.values)).sum())
    if bad:
        report.implausible_label_samples[task] = report.implausible_label_samples.get(task, 0) + bad
    t, v = numeric.times[ok], numeric.values[ok]
    out = np.full(starts.size, np.nan)
    left = np.searchsorted(t, starts, side="left")
    right = np.searchsorted(t, starts + window_s, side="left")
    for i, (a, b) in enumerate(zip(left, right, strict=True)):
        if b > a:
            out[i] = np.median(v[a:b])
    return out


def _with_samples(
    signals: dict[str, np.ndarray], starts: np.ndarray, length: int, report: ImportReport
) -> tuple[np.ndarray, np.ndarray]:
    """(window numbers, starts) of the windows that hold at least one sample: a window wholly inside a
    gap (a sensor off for an hour) is left out with a note, rather than filed as an empty window that
    ingest would drop, and whose share could quarantine the whole batch. Numbers keep window ids stable."""
    has = np.zeros(starts.size, bool)
    for x in signals.values():
        counts = np.r_[0, np.cumsum(np.isfinite(x))]
        has |= counts[np.minimum(starts + length, x.size)] > counts[np.minimum(starts, x.size)]
    if (~has).any():
        report.notes.append(f"{int((~has).sum())} windows lie wholly inside gaps (no sample): left out")
    return np.flatnonzero(has), starts[has]


def to_windows(
    rec: Recording,
    *,
    subject_id: str,
    source: str,
    device: str,
    window_s: float = 10.0,
    hop_s: float | None = None,
    fs_out: float | None = None,
    report: ImportReport,
) -> pa.Table:
    """Cut ``rec`` into windows of ``window_s`` seconds every ``hop_s`` seconds at ``fs_out`` Hz."""
    if not window_s >= MIN_WINDOW_SECONDS:  # also NaN
        raise ValueError(f"{rec.name}: window of {window_s} s; at least {MIN_WINDOW_SECONDS:g} s is needed")
    unknown = set(rec.channels) - set(CHANNELS)
    if unknown:
        raise ValueError(
            f"{rec.name}: unknown channels {sorted(unknown)}; the batch format has {list(CHANNELS)}"
        )
    if fs_out is not None and float(fs_out) not in SUPPORTED_RATES:
        raise ValueError(
            f"{rec.name}: target rate {fs_out} Hz is not supported; choose one of {list(SUPPORTED_RATES)}"
        )
    fs = float(fs_out) if fs_out is not None else supported_rate(rec.fs)
    if fs_out is None and fs != rec.fs:
        report.notes.append(f"resampled from {rec.fs:g} Hz to {fs:g} Hz (the nearest supported rate)")
    hop_s = hop_s or window_s
    signals = {ch: resample(x, rec.fs, fs) for ch, x in rec.channels.items()}
    n_total = min(x.size for x in signals.values())
    length = round(window_s * fs)
    hop = round(hop_s * fs) if hop_s > 0 else 0  # also NaN
    if hop < 1:
        raise ValueError(f"{rec.name}: hop of {hop_s} s; windows must start at least one sample apart")
    starts_idx = np.arange(0, n_total - length + 1, hop)
    if starts_idx.size == 0:
        report.notes.append(f"recording is shorter than one window ({n_total / fs:.1f} s < {window_s} s)")
    numbers, starts_idx = _with_samples(signals, starts_idx, length, report)
    starts_s = starts_idx / fs  # whole samples: a hop of 0.33 s at 125 Hz is 41 samples, 0.328 s
    report.window_starts_s += starts_s.tolist()
    n = starts_idx.size
    data: dict[str, pa.Array] = {
        "window_id": pa.array([f"{source}-{rec.name}-w{i:05d}" for i in numbers], pa.string()),
        "subject_id": pa.array([subject_id] * n, pa.string()),
        "source": pa.array([source] * n, pa.string()),
        "device": pa.array([device] * n, pa.string()),
        "fs": pa.array(np.full(n, fs)),
    }
    for ch in CHANNELS:
        if ch in signals:
            rows = np.stack([signals[ch][s : s + length] for s in starts_idx]) if n else np.empty((0, length))
            data[ch] = to_list_array(rows)
        else:
            data[ch] = pa.nulls(n, BATCH_SCHEMA.field(ch).type)
    for task in TASKS:
        if task.name in rec.labels:
            values = _window_labels(rec.labels[task.name], task.name, starts_s, window_s, report)
            data[task.name] = pa.array(values, from_pandas=True).cast(BATCH_SCHEMA.field(task.name).type)
        else:
            data[task.name] = pa.nulls(n, BATCH_SCHEMA.field(task.name).type)
    data["skin_tone"] = pa.nulls(n, pa.int8())
    data["motion"] = pa.nulls(n, pa.string())
    if rec.start is not None:
        utc = rec.start.astimezone(dt.UTC) if rec.start.tzinfo else rec.start  # naive means UTC
        start = np.datetime64(utc.replace(tzinfo=None), "ms")
        data["recorded_at"] = pa.array(
            start + (starts_s * 1000).astype("timedelta64[ms]"), pa.timestamp("ms")
        )
    else:
        data["recorded_at"] = pa.nulls(n, pa.timestamp("ms", tz="UTC"))
    report.windows += n
    return conform(pa.table(data), rec.name)
