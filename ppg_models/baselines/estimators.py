"""Classical DSP estimators: HR from pulse peaks, SpO2 from the ratio of ratios, RR from respiratory
modulations, AF from beat-interval irregularity. Each takes (windows, samples) matrices at one rate.
"""

from __future__ import annotations

import numpy as np

from ppg_models import dsp
from ppg_models.baselines.beats import HR_BAND, DetectedBeats

RR_BAND = (0.1, 0.7)  # Hz: 6-42 breaths/min
RESAMPLE_HZ = 4.0  # grid for beat-derived respiratory series
AF_THRESHOLD = 0.1  # normalised RMSSD where the AF score crosses 0.5


def beat_rate_hz(beats: DetectedBeats) -> np.ndarray:
    """Hz per window: (pulses - 1) / time from the first to the last pulse, NaN with fewer than 3."""
    out = np.full(len(beats.times), np.nan)
    for i, t in enumerate(beats.times):
        if t.size >= 3 and t[-1] > t[0]:
            out[i] = (t.size - 1) / (t[-1] - t[0])
    return out


def heart_rate(beats: DetectedBeats) -> np.ndarray:
    """bpm per window: mean rate over detected pulses, or the spectral peak with fewer than 3 pulses."""
    counted = beat_rate_hz(beats)
    return 60.0 * np.where(np.isnan(counted), beats.spectral_hz, counted)


def spo2_ratio_of_ratios(red: np.ndarray, ir: np.ndarray, fs: float) -> np.ndarray:
    """SpO2 (%) from R = (AC_red/DC_red) / (AC_ir/DC_ir) with the nominal curve 110 - 25 R.

    AC_red/AC_ir is the least-squares slope of the cardiac-band red signal on the infrared one, which is
    less sensitive to uncorrelated noise than a ratio of amplitudes.
    """
    red_f, ir_f = dsp.fill_missing(red), dsp.fill_missing(ir)
    red_ac = dsp.bandpass(red_f, fs, *HR_BAND)
    ir_ac = dsp.bandpass(ir_f, fs, *HR_BAND)
    slope = (red_ac * ir_ac).sum(axis=1) / np.maximum((ir_ac * ir_ac).sum(axis=1), 1e-12)
    ratio = slope * ir_f.mean(axis=1) / np.maximum(red_f.mean(axis=1), 1e-12)
    levels = (
        dsp.perfusion_index(red_f.mean(axis=1), red_ac)[1] & dsp.perfusion_index(ir_f.mean(axis=1), ir_ac)[1]
    )
    return np.where(levels, np.clip(110.0 - 25.0 * ratio, 50.0, 100.0), np.nan)


def _beat_series_rate(times: np.ndarray, values: np.ndarray, duration: float) -> float:
    """Dominant respiratory frequency (Hz) of a beat-by-beat series, or NaN with too few beats."""
    if times.size < 5:
        return float("nan")
    grid = np.arange(times[0], times[-1], 1 / RESAMPLE_HZ)
    if grid.size < 8:
        return float("nan")
    series = np.interp(grid, times, values)[None, :]
    return float(dsp.dominant_frequency(series, RESAMPLE_HZ, *RR_BAND)[0])


def respiratory_rate(x: np.ndarray, fs: float, beats: DetectedBeats) -> np.ndarray:
    """Breaths/min per window: median of the baseline (RIIV), amplitude (RIAV) and interval (RIFV)
    modulation frequencies (Karlen et al. 2013 fuse the same three)."""
    filled = dsp.fill_missing(x)
    riiv = dsp.dominant_frequency(dsp.lowpass(filled, fs, RR_BAND[1]), fs, *RR_BAND)
    duration = x.shape[1] / fs
    out = np.empty(x.shape[0])
    for i, (t, a) in enumerate(zip(beats.times, beats.amplitudes, strict=True)):
        riav = _beat_series_rate(t, a, duration)
        rifv = _beat_series_rate(t[1:], np.diff(t), duration) if t.size > 1 else float("nan")
        out[i] = 60.0 * np.nanmedian([riiv[i], riav, rifv])
    return out


def af_probability(beats: DetectedBeats) -> np.ndarray:
    """A score in (0, 1) rising with the normalised RMSSD of pulse intervals; NaN under 5 pulses."""
    out = np.full(len(beats.times), np.nan)
    for i, t in enumerate(beats.times):
        if t.size >= 5:
            ibi = np.diff(t)
            nrmssd = np.sqrt(np.mean(np.diff(ibi) ** 2)) / ibi.mean()
            out[i] = 1.0 / (1.0 + np.exp(-(nrmssd - AF_THRESHOLD) / 0.02))
    return out
