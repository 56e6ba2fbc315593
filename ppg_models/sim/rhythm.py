"""Beat and breath timing for simulated windows, and the labels measured from them.

Heart rate and respiratory rate labels are computed from the beats and breaths actually generated
(beat onsets inside the window, respiratory phase advanced over the window), never copied from the
targets, so heart-rate variability, ectopy and breathing irregularity show up in the labels as they
would in a reference measurement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PREROLL_S = 3.0  # beats start before the window so the first samples have a pulse behind them
MIN_INTERVAL_S = 0.28
MAX_INTERVAL_S = 2.2
PAD = 1.0e4  # onset value of unused beat slots (far after the window)


@dataclass(frozen=True)
class Breathing:
    """Respiratory phase psi(t) = phase0 + 2 pi rate t + wobble sin(2 pi wobble_hz t + wobble_phase)."""

    rate_hz: np.ndarray  # (windows,)
    phase0: np.ndarray
    wobble: np.ndarray  # rad: breath-to-breath irregularity
    wobble_hz: np.ndarray
    wobble_phase: np.ndarray

    def phase(self, t: np.ndarray) -> np.ndarray:
        """Phase at times ``t`` of shape (windows, k), in radians."""
        col = (lambda a: a[:, None]) if t.ndim == 2 else (lambda a: a)
        return (
            col(self.phase0)
            + 2 * np.pi * col(self.rate_hz) * t
            + col(self.wobble) * np.sin(2 * np.pi * col(self.wobble_hz) * t + col(self.wobble_phase))
        )

    def breaths_per_minute(self, duration_s: float) -> np.ndarray:
        """Breaths actually taken during [0, duration): phase advanced over the window, per minute."""
        ends = np.stack([np.zeros_like(self.rate_hz), np.full_like(self.rate_hz, duration_s)], axis=1)
        psi = self.phase(ends)
        return 60.0 * (psi[:, 1] - psi[:, 0]) / (2 * np.pi * duration_s)


def draw_breathing(rr_bpm: np.ndarray, rng: np.random.Generator) -> Breathing:
    n = rr_bpm.size
    return Breathing(
        rate_hz=rr_bpm / 60.0,
        phase0=rng.uniform(0, 2 * np.pi, n),
        wobble=rng.uniform(0.1, 0.9, n),
        wobble_hz=rng.uniform(0.03, 0.12, n),
        wobble_phase=rng.uniform(0, 2 * np.pi, n),
    )


@dataclass(frozen=True)
class Beats:
    onsets: np.ndarray  # (windows, slots) seconds from window start, sorted; unused slots = PAD
    amplitude: np.ndarray  # (windows, slots) relative stroke amplitude of each beat


def draw_beats(
    hr_bpm: np.ndarray,
    af: np.ndarray,
    ectopy_rate: np.ndarray,
    rsa_depth: np.ndarray,
    breathing: Breathing,
    duration_s: float,
    rng: np.random.Generator,
) -> Beats:
    """Beat onsets: sinus rhythm with HRV, RSA and occasional premature beats, or AF."""
    n = hr_bpm.size
    slots = int(np.ceil((duration_s + PREROLL_S) / MIN_INTERVAL_S)) + 2
    base = (60.0 / hr_bpm)[:, None]  # (windows, 1) mean interval, s
    k = np.arange(slots)[None, :]
    start = -PREROLL_S - rng.uniform(0, 1, (n, 1)) * base

    # Sinus: low-frequency (Mayer wave) variability, white jitter, then RSA from the breathing phase.
    mayer = 0.03 * np.sin(
        2 * np.pi * rng.uniform(0.08, 0.12, (n, 1)) * (start + k * base) + rng.uniform(0, 6.3, (n, 1))
    )
    sinus = base * (1 + mayer + rng.normal(0, 0.012, (n, slots)))
    onsets = start + np.cumsum(np.concatenate([np.zeros((n, 1)), sinus[:, :-1]], axis=1), axis=1)
    for _ in range(2):  # RSA depends on when beats fall: refine the onsets twice
        rsa = 1 - rsa_depth[:, None] * np.cos(breathing.phase(onsets))
        intervals = sinus * rsa
        onsets = start + np.cumsum(np.concatenate([np.zeros((n, 1)), intervals[:, :-1]], axis=1), axis=1)

    # Premature beats: a short interval followed by a compensatory pause, with a weak pulse.
    premature = rng.random((n, slots)) < ectopy_rate[:, None]
    premature[:, -1] = False
    intervals = intervals * np.where(premature, 0.62, 1.0)
    intervals[:, 1:] *= np.where(premature[:, :-1], 1.38, 1.0)

    # AF: irregularly irregular intervals with no respiratory pattern.
    spread = rng.uniform(0.15, 0.3, (n, 1))
    af_intervals = base * np.exp(rng.normal(-(spread**2) / 2, spread, (n, slots)))
    intervals = np.where(af[:, None], af_intervals, intervals)
    intervals = np.clip(intervals, MIN_INTERVAL_S, MAX_INTERVAL_S)

    onsets = start + np.cumsum(np.concatenate([np.zeros((n, 1)), intervals[:, :-1]], axis=1), axis=1)
    onsets = np.where(onsets < duration_s + 1.0, onsets, PAD)

    # Stroke amplitude follows the filling time before the beat (Frank-Starling): weak after short gaps.
    preceding = np.concatenate([base, intervals[:, :-1]], axis=1)
    filling = np.clip((preceding / base) ** 0.7, 0.25, 1.5)
    amplitude = np.where(af[:, None], filling, 1.0) * (1 + rng.normal(0, 0.03, (n, slots)))
    shifted = np.concatenate([np.zeros((n, 1), bool), premature[:, :-1]], axis=1)
    amplitude = np.where(shifted & ~af[:, None], 0.5, amplitude)
    return Beats(onsets=onsets, amplitude=amplitude)


def beats_per_minute(onsets: np.ndarray, duration_s: float) -> np.ndarray:
    """Mean heart rate from the beats inside [0, duration): (beats - 1) over the span they cover."""
    inside = (onsets >= 0) & (onsets < duration_s)
    count = inside.sum(axis=1)
    first = np.where(inside, onsets, np.inf).min(axis=1)
    last = np.where(inside, onsets, -np.inf).max(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count >= 2, 60.0 * (count - 1) / (last - first), np.nan)
