"""Pulse detection on PPG windows: beat times and amplitudes for HR, RR and AF baselines."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal
from scipy.ndimage import uniform_filter1d

from ppg_models import dsp

HR_BAND = (0.5, 3.8)  # Hz: 30-228 bpm
GAP = 1.6  # an interval this many times the window's median one is a missed beat


@dataclass(frozen=True)
class DetectedBeats:
    times: list[np.ndarray]  # per window, seconds of each pulse peak
    amplitudes: list[np.ndarray]  # per window, peak-to-preceding-trough height
    spectral_hz: np.ndarray  # (windows,) dominant cardiac frequency, the detector's prior
    pulse: np.ndarray  # (windows, samples) the band-passed, upright pulse the peaks were found on
    fs: float

    def refined_times(self) -> list[np.ndarray]:
        """Per window, the pulse times (s) moved to the vertex of the parabola through each peak sample
        and its neighbours: whole samples alone jitter a 120 bpm interval by 1.6 % (62 or 63 samples at
        125 Hz), near a breath's swing of it."""
        out = []
        for row, t in zip(self.pulse, self.times, strict=True):
            p = np.rint(t * self.fs).astype(np.int64)
            inner = (p > 0) & (p < row.size - 1)
            q = p[inner]
            left, mid, right = row[q - 1], row[q], row[q + 1]
            curve = left - 2 * mid + right
            shift = np.where(curve < 0, 0.5 * (left - right) / np.where(curve < 0, curve, -1.0), 0.0)
            exact = p.astype(np.float64)
            exact[inner] += np.clip(shift, -0.5, 0.5)
            out.append(exact / self.fs)
        return out


def pulse_signal(x: np.ndarray, fs: float) -> np.ndarray:
    """Cardiac-band pulse with beats pointing up, whatever the export's polarity: a window whose band
    signal is negatively skewed (beats as dips, raw light intensity) is flipped."""
    band = dsp.bandpass(dsp.fill_missing(x), fs, *HR_BAND)
    edge = int(fs // 2)  # filter transients at the ends do not vote
    return band * np.where(dsp.quantile_skew(band[:, edge:-edge]) < 0, -1.0, 1.0)[:, None]


def detect_beats(x: np.ndarray, fs: float, gap_retry: bool = True) -> DetectedBeats:
    """Peaks of the blood-volume pulse in each row of ``x`` (windows, samples).

    The dominant cardiac frequency sets the minimum distance between peaks (60% of its period), and a
    prominence floor of 30% of the window's robust pulse height rejects dicrotic notches and noise.

    With ``gap_retry``, a window whose peaks leave a gap (an interval over ``GAP`` times the median: a
    missed beat) is searched again on the pulse minus its running one-beat mean, and that search is
    kept when it leaves no gap. At fast rates a breath moves the baseline by more than a pulse within a
    few beats: the window's pulse height, taken over the baseline's swing too, sets a floor that the
    pulses on its slopes do not clear, and the count halves (a 174 bpm window read as 94). The model's
    ``beat_rate`` input is counted without the retry (``models.inputs`` says why).
    """
    pulse = pulse_signal(x, fs)
    f0 = dsp.dominant_frequency(pulse, fs, *HR_BAND)
    times, amps = [], []
    for row, f in zip(pulse, f0, strict=True):
        peaks, prominences = _peaks(row, fs, f)
        if gap_retry and _has_gap(peaks):
            levelled = row - uniform_filter1d(row, max(3, round(fs / f)), mode="nearest")
            again, again_prominences = _peaks(levelled, fs, f)
            if not _has_gap(again):
                peaks, prominences = again, again_prominences
        times.append(peaks / fs)
        amps.append(prominences)
    return DetectedBeats(times=times, amplitudes=amps, spectral_hz=f0, pulse=pulse, fs=fs)


def _peaks(row: np.ndarray, fs: float, f0: float) -> tuple[np.ndarray, np.ndarray]:
    height = np.percentile(row, 95) - np.percentile(row, 5)
    peaks, props = signal.find_peaks(row, distance=max(1, int(0.6 * fs / f0)), prominence=0.3 * height)
    return peaks, props["prominences"]


def _has_gap(peaks: np.ndarray) -> bool:
    if peaks.size < 4:
        return False
    intervals = np.diff(peaks)
    return bool((intervals > GAP * np.median(intervals)).any())
