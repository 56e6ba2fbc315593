"""Pulse waveform: a forward (systolic) wave plus a reflected wave whose timing and size follow
blood pressure and arterial stiffness.

Pulse wave velocity rises with stiffness and mean arterial pressure (an exponential pressure-
elasticity relation), so the reflected wave returns earlier (2 L / PWV) and larger in stiff, hypertensive
arteries. Path length L varies with body size, which makes BP learnable from shape but not trivially.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ppg_models.sim.rhythm import Beats


@dataclass(frozen=True)
class PulseShape:
    """Per-window shape parameters (all (windows,) arrays, seconds unless noted)."""

    systolic_peak: np.ndarray
    systolic_width: np.ndarray
    reflection_delay: np.ndarray
    reflection_ratio: np.ndarray  # reflected / forward amplitude
    reflection_width: np.ndarray
    runoff_ratio: np.ndarray  # diastolic run-off amplitude relative to the forward wave
    runoff_decay: np.ndarray  # s, time constant of the diastolic decay


def pulse_shape(
    sbp: np.ndarray,
    dbp: np.ndarray,
    hr: np.ndarray,
    stiffness: np.ndarray,
    path_length: np.ndarray,
    rng: np.random.Generator,
) -> PulseShape:
    n = sbp.size
    pulse_pressure = sbp - dbp
    mean_pressure = dbp + pulse_pressure / 3.0
    pwv = 5.0 * stiffness * np.exp(0.018 * (mean_pressure - 93.0))  # m/s
    systolic_peak = 0.13 * (60.0 / hr / 0.857) ** 0.3 + 0.0004 * (pulse_pressure - 40)
    systolic_width = np.clip(0.05 + 0.0005 * (pulse_pressure - 40) + rng.normal(0, 0.004, n), 0.035, 0.085)
    ratio = 0.3 + 0.28 * (stiffness - 1) + 0.005 * (pulse_pressure - 40) + rng.normal(0, 0.04, n)
    return PulseShape(
        systolic_peak=systolic_peak,
        systolic_width=systolic_width,
        reflection_delay=2 * path_length / pwv,
        reflection_ratio=np.clip(ratio, 0.12, 0.95),
        reflection_width=systolic_width * rng.uniform(1.4, 1.9, n),
        runoff_ratio=rng.uniform(0.25, 0.45, n),
        runoff_decay=(60.0 / hr) * np.clip(0.24 - 0.04 * (stiffness - 1), 0.15, 0.3),
    )


def _template(s: np.ndarray, shape: PulseShape) -> np.ndarray:
    """One beat's pulse at times ``s`` after its onset; s has shape (windows, k)."""
    col = lambda a: a[:, None]  # noqa: E731
    forward = np.exp(-0.5 * ((s - col(shape.systolic_peak)) / col(shape.systolic_width)) ** 2)
    reflected_at = col(shape.systolic_peak + shape.reflection_delay)
    reflected = np.exp(-0.5 * ((s - reflected_at) / col(shape.reflection_width)) ** 2)
    # Diastolic run-off: rises with the forward wave, then decays exponentially through diastole.
    after_peak = np.maximum(s - col(shape.systolic_peak), 0.0)
    runoff = np.minimum(forward, 1.0) * np.where(s < col(shape.systolic_peak), 1.0, 0.0)
    runoff += np.exp(-after_peak / col(shape.runoff_decay)) * (s >= col(shape.systolic_peak))
    return forward + col(shape.reflection_ratio) * reflected + col(shape.runoff_ratio) * runoff


def render_pulse(beats: Beats, shape: PulseShape, fs: float, n_samples: int) -> np.ndarray:
    """Blood-volume pulse sampled at ``fs``: (windows, n_samples), beats of height ~ their amplitude."""
    n, slots = beats.onsets.shape
    t = np.arange(n_samples) / fs  # (samples,)
    # Index of the last onset at or before each sample, for all windows in one sorted search.
    stride = 4 * 1.0e4
    rows = np.arange(n)[:, None] * stride
    flat = (beats.onsets + rows).ravel()
    idx = np.searchsorted(flat, (t[None, :] + rows).ravel(), side="right").reshape(n, n_samples) - 1
    current = idx - np.arange(n)[:, None] * slots
    previous = np.maximum(current - 1, 0)
    onsets_flat, amp_flat = beats.onsets.ravel(), beats.amplitude.ravel()
    row_base = np.arange(n)[:, None] * slots
    s_now = t[None, :] - onsets_flat[row_base + current]
    s_prev = t[None, :] - onsets_flat[row_base + previous]
    pulse = amp_flat[row_base + current] * _template(s_now, shape)
    pulse += np.where(current > 0, amp_flat[row_base + previous], 0.0) * _template(s_prev, shape)
    grid = np.linspace(0, 1.0, 200)[None, :].repeat(n, axis=0)
    peak = _template(grid, shape).max(axis=1, keepdims=True)  # normalise beats to height ~1
    return pulse / peak
