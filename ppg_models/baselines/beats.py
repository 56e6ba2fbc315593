"""Pulse detection on PPG windows: beat times and amplitudes for HR, RR and AF baselines."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from ppg_models import dsp

HR_BAND = (0.5, 3.8)  # Hz: 30-228 bpm


@dataclass(frozen=True)
class DetectedBeats:
    times: list[np.ndarray]  # per window, seconds of each pulse peak
    amplitudes: list[np.ndarray]  # per window, peak-to-preceding-trough height
    spectral_hz: np.ndarray  # (windows,) dominant cardiac frequency, the detector's prior


def pulse_signal(x: np.ndarray, fs: float) -> np.ndarray:
    """Cardiac-band pulse with beats pointing up, whatever the export's polarity: a window whose band
    signal is negatively skewed (beats as dips, raw light intensity) is flipped."""
    band = dsp.bandpass(dsp.fill_missing(x), fs, *HR_BAND)
    edge = int(fs // 2)  # filter transients at the ends do not vote
    return band * np.where(dsp.quantile_skew(band[:, edge:-edge]) < 0, -1.0, 1.0)[:, None]


def detect_beats(x: np.ndarray, fs: float) -> DetectedBeats:
    """Peaks of the blood-volume pulse in each row of ``x`` (windows, samples).

    The dominant cardiac frequency sets the minimum distance between peaks (60% of its period), and a
    prominence floor of 30% of the window's robust pulse height rejects dicrotic notches and noise.
    """
    pulse = pulse_signal(x, fs)
    f0 = dsp.dominant_frequency(pulse, fs, *HR_BAND)
    times, amps = [], []
    for row, f in zip(pulse, f0, strict=True):
        height = np.percentile(row, 95) - np.percentile(row, 5)
        peaks, props = signal.find_peaks(row, distance=max(1, int(0.6 * fs / f)), prominence=0.3 * height)
        times.append(peaks / fs)
        amps.append(props["prominences"])
    return DetectedBeats(times=times, amplitudes=amps, spectral_hz=f0)
