"""The model's input pipeline: batches as they come (any rate, any channel subset, any export) to tensors.

Real exports differ in ways that say nothing about physiology: raw DC-coupled light intensity (beats
as dips), AC-coupled or rescaled waveforms in arbitrary units (often zero-mean), inverted ones (beats
as peaks). The inputs are built to be invariant to all of that:

1. Every channel is resampled to ``MODEL_FS`` and fitted to ``WINDOW_SAMPLES``.
2. **Orientation**: beats are made to point up. A window whose cardiac-band signal is negatively
   skewed (deep dips, the raw-intensity look) is flipped; the decision is taken per (source, device)
   group of windows by majority when the group is large enough (an export's polarity is a property of
   the export, and one window under motion can mislead), else per window.
3. **Shape channels** (red, ir, green): the linearly detrended, oriented signal divided by its own
   standard deviation: the same for any offset, gain or polarity.
4. **Perfusion channels** (pi_red, pi_ir, pi_green): constant over the window, the natural log of
   the perfusion index (cardiac-band peak-to-peak amplitude in percent of the mean level) when the
   level is *physical*: positive, with a perfusion index inside ``dsp.PI_RANGE``. The SpO2 ratio of
   ratios is exactly ``exp(pi_red - pi_ir)``. An AC-coupled or rescaled export has no physical
   level: the channel is 0 and ``level`` says so, and SpO2 is not estimated from it.
5. A ``pulse`` channel: the shape of the best present channel (IR, then green, then red).
6. A ``beat_rate`` channel: constant over the window, the rate in Hz of the pulses a peak detector
   finds on the pulse channel ((pulses - 1) / time from first to last, the DSP baseline's estimator;
   0 with fewer than 3 pulses). Evidence for the HR head, which weighs it against the spectrum: on a
   clean window the counted rate is what HR labels mean, under motion the spectrum is the safer read.
   Counted without the detector's missed-beat retry (which the DSP baseline uses): models trained on
   the retry's counts were no better over 3 seeds, and IR-only HR was worse in each seed
   (``benchmarks/results/robustness-beat-retry.md``).
7. A ``beat_interval`` channel: the tachogram of those pulses. Each interval between two pulses,
   relative to the window's median interval (``BEAT_INTERVAL_GAIN`` x (interval / median - 1), clipped
   to +-``BEAT_INTERVAL_CLIP``), placed at the interval's midpoint and interpolated linearly between
   them (held flat before the first and after the last); 0 with fewer than 4 pulses. Peak times are
   refined between samples (a parabola through the peak), and intervals touching the first or last
   half second (band-pass transients) are left out where three others remain. It carries two
   things the shape channels hide from a convolution that sees a few beats: the irregularity of
   successive intervals that defines atrial fibrillation, and the respiratory sinus arrhythmia (the
   intervals lengthen and shorten with each breath), which survives an AC-coupled export's high-pass
   where the breathing baseline does not.

Missing channels are zeros with a presence flag of 0. A model reads the first
``len(spec.input_channels)`` channels: a bundle saved before ``beat_interval`` existed keeps the eight
it was trained and gated on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from scipy import signal

from ppg_models import dsp
from ppg_models.baselines.beats import detect_beats
from ppg_models.baselines.estimators import beat_rate_hz
from ppg_models.data.arrays import group_by_length, to_matrix
from ppg_models.tasks import CHANNELS, PULSE_PREFERENCE

MODEL_FS = 125.0
WINDOW_SAMPLES = 1250  # 10 s
SHAPE_CHANNELS = CHANNELS
PI_CHANNELS = tuple(f"pi_{c}" for c in CHANNELS)
INPUT_CHANNELS = (*SHAPE_CHANNELS, "pulse", *PI_CHANNELS, "beat_rate", "beat_interval")  # (batch, 9, 1250)
BASE_INPUTS = INPUT_CHANNELS[:8]  # what bundles saved before ``beat_interval`` read
BEAT_INTERVAL_GAIN = 10.0  # a 5 % respiratory swing of the interval reads 0.5, AF's 20-40 % reads 2-4
BEAT_INTERVAL_CLIP = 5.0
EDGE_S = 0.5  # band-pass transients move the peaks of the first and last half second
SHAPE_CLIP = 6.0  # standard deviations
ORIENT_BAND = (0.5, 8.0)  # Hz
GROUP_VOTE = 3  # windows of one (source, device) needed to decide orientation by majority


@dataclass(frozen=True)
class ModelInputs:
    x: np.ndarray  # (windows, len(INPUT_CHANNELS), WINDOW_SAMPLES) float32
    present: np.ndarray  # (windows, 3) bool, per CHANNELS: the channel has a signal
    level: np.ndarray  # (windows, 3) bool, per CHANNELS: its level is physical (SpO2 may use it)
    flipped: np.ndarray | None = None  # (windows,) bool: the orientation step inverted the window


def _to_model_rate(x: np.ndarray, fs: float) -> np.ndarray:
    """(n, samples) at ``fs`` -> (n, WINDOW_SAMPLES) at MODEL_FS (cropped or edge-padded)."""
    x = dsp.resample(x, fs, MODEL_FS)
    if x.shape[1] >= WINDOW_SAMPLES:
        return x[:, :WINDOW_SAMPLES]
    return np.pad(x, ((0, 0), (0, WINDOW_SAMPLES - x.shape[1])), mode="edge")


def channel_features(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per row at MODEL_FS: unit-variance detrended shape, log perfusion index, physical level, skew."""
    centred = signal.detrend(x, axis=1)
    shape = centred / np.maximum(centred.std(axis=1, keepdims=True), 1e-9)
    band = dsp.bandpass(x, MODEL_FS, *ORIENT_BAND)
    pi, physical = dsp.perfusion_index(x.mean(axis=1), band)
    log_pi = np.where(physical, np.log(np.where(physical, pi, 1.0)), 0.0)
    edge = int(MODEL_FS // 2)  # filter and resampling transients live in the first and last half second
    return shape, log_pi, physical, dsp.quantile_skew(band[:, edge:-edge])


def _group_keys(table: pa.Table) -> np.ndarray | None:
    names = set(table.column_names)
    if not {"source", "device"} <= names:
        return None
    source = np.asarray(table.column("source").to_pylist(), dtype=object)
    device = np.asarray(table.column("device").to_pylist(), dtype=object)
    return np.array([f"{s}\x00{d}" for s, d in zip(source, device, strict=True)], dtype=object)


def orientation(skew: np.ndarray, keys: np.ndarray | None) -> np.ndarray:
    """True where a window must be flipped (beats as dips), by group majority where groups are large."""
    flip = skew < 0
    if keys is None:
        return flip
    for key in np.unique(keys):
        rows = np.flatnonzero(keys == key)
        if rows.size >= GROUP_VOTE:
            flip[rows] = np.median(skew[rows]) < 0
    return flip


def prepare_inputs(table: pa.Table) -> ModelInputs:
    """Tensors for the model from a batch table (rows in table order)."""
    n = table.num_rows
    x = np.zeros((n, len(INPUT_CHANNELS), WINDOW_SAMPLES), np.float32)
    present = np.zeros((n, len(CHANNELS)), bool)
    level = np.zeros((n, len(CHANNELS)), bool)
    skew = np.zeros((n, len(CHANNELS)))
    fs_all = table.column("fs").to_numpy()
    for c, channel in enumerate(CHANNELS):
        column = table.column(channel).combine_chunks()
        if column.null_count == n:
            continue
        for _, rows in group_by_length(column).items():
            for fs in np.unique(fs_all[rows]):
                sel = rows[fs_all[rows] == fs]
                raw = to_matrix(column.take(pa.array(sel))).astype(np.float64)
                shape, log_pi, physical, sk = channel_features(_to_model_rate(raw, float(fs)))
                flat = ~np.isfinite(shape).all(axis=1) | (np.abs(shape).sum(axis=1) == 0)
                x[sel, c] = np.where(flat[:, None], 0.0, shape)
                x[sel, INPUT_CHANNELS.index(PI_CHANNELS[c])] = log_pi[:, None]
                present[sel, c] = ~flat
                level[sel, c] = physical & ~flat
                skew[sel, c] = np.where(flat, 0.0, sk)
    flipped = orientation(skew.sum(axis=1), _group_keys(table))
    shapes = slice(0, len(CHANNELS))
    x[flipped, shapes] *= -1
    np.clip(x[:, shapes], -SHAPE_CLIP, SHAPE_CLIP, out=x[:, shapes])
    pulse = INPUT_CHANNELS.index("pulse")
    source = pulse_channel(present)
    rows = np.flatnonzero(source >= 0)
    if rows.size:
        x[rows, pulse] = x[rows, source[rows]]  # shape channels come first, in CHANNELS order
        set_pulse_timing(x, rows)
    return ModelInputs(x=x, present=present, level=level, flipped=flipped)


def pulse_channel(present: np.ndarray) -> np.ndarray:
    """Per window, the index (into CHANNELS) of the channel its pulse input comes from: the first
    present one in PULSE_PREFERENCE; -1 for a window without any."""
    out = np.full(len(present), -1)
    for channel in reversed(PULSE_PREFERENCE):  # best channel wins: written last
        c = CHANNELS.index(channel)
        out[present[:, c]] = c
    return out


def set_pulse_timing(x: np.ndarray, rows: np.ndarray) -> None:
    """Fill the ``beat_rate`` and ``beat_interval`` inputs of ``rows`` of ``x`` (windows, INPUT_CHANNELS,
    samples) from their ``pulse`` input, in place."""
    if rows.size == 0:
        return
    pulse = x[rows, INPUT_CHANNELS.index("pulse")].astype(np.float64)
    beats = detect_beats(pulse, MODEL_FS, gap_retry=False)
    x[rows, INPUT_CHANNELS.index("beat_rate")] = np.nan_to_num(beat_rate_hz(beats), nan=0.0)[:, None]
    x[rows, INPUT_CHANNELS.index("beat_interval")] = tachogram(beats.refined_times(), x.shape[2])


def tachogram(times: list[np.ndarray], samples: int) -> np.ndarray:
    """The ``beat_interval`` input (windows, samples) from each window's pulse times (seconds)."""
    out = np.zeros((len(times), samples), np.float32)
    grid = np.arange(samples) / MODEL_FS
    for i, t in enumerate(times):
        if t.size < 4:
            continue
        intervals, middle = np.diff(t), (t[1:] + t[:-1]) / 2
        inner = (t[:-1] >= EDGE_S) & (t[1:] <= samples / MODEL_FS - EDGE_S)  # clear of filter transients
        if inner.sum() >= 3:
            intervals, middle = intervals[inner], middle[inner]
        relative = BEAT_INTERVAL_GAIN * (intervals / np.median(intervals) - 1.0)
        series = np.interp(grid, middle, relative)
        out[i] = np.clip(series, -BEAT_INTERVAL_CLIP, BEAT_INTERVAL_CLIP)
    return out
