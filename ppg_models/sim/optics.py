"""Red, infrared and green intensities from the blood-volume pulse.

The red/IR ratio of ratios R = (AC_red/DC_red) / (AC_ir/DC_ir) follows the empirical calibration
SpO2 = 110 - 25 R, shifted by a per-device calibration offset. Melanin absorbs more red than infrared
light, so darker skin lowers both DC levels (red more) and biases R slightly low, which makes the
displayed SpO2 read high, most of all at low saturation, as reported for real pulse oximeters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ppg_models.sim import artifacts
from ppg_models.sim.catalog import DeviceSpec


def ratio_of_ratios(spo2: np.ndarray) -> np.ndarray:
    """R for a saturation under the nominal calibration curve SpO2 = 110 - 25 R."""
    return (110.0 - spo2) / 25.0


def skin_tone_bias(skin_tone: np.ndarray, spo2: np.ndarray) -> np.ndarray:
    """Overestimate of SpO2 (percentage points) caused by skin pigmentation."""
    return 0.25 * (skin_tone - 1) * (1 + np.maximum(0.0, 92.0 - spo2) / 8.0)


@dataclass(frozen=True)
class OpticalInputs:
    pulse: np.ndarray  # (windows, samples) blood-volume pulse, beats of height ~1
    breathing_phase: np.ndarray  # (windows, samples) radians
    spo2: np.ndarray  # (windows,) %
    perfusion: np.ndarray  # (windows,) IR AC/DC
    skin_tone: np.ndarray  # (windows,) 1-6
    motion_level: np.ndarray  # (windows,) 0/1/2


def render_channels(x: OpticalInputs, device: DeviceSpec, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """ADC counts per channel, float32 (windows, samples); 'green' only for devices that have it."""
    n, n_samples = x.pulse.shape
    full_scale = float(2**device.adc_bits - 1)
    tone = x.skin_tone.astype(float)
    pi = x.perfusion[:, None]
    r = ratio_of_ratios(x.spo2 + skin_tone_bias(tone, x.spo2)) + device.r_offset

    dc_ir = full_scale * device.dc_level * (1 - 0.05 * (tone - 1)) * rng.uniform(0.9, 1.1, n)
    clipped = rng.random(n) < device.clip_probability
    dc_ir = np.where(clipped, full_scale * rng.uniform(0.996, 1.01, n), dc_ir)
    dc = {
        "ir": dc_ir,
        "red": dc_ir * 0.8 * (1 - 0.11 * (tone - 1)) / (1 - 0.05 * (tone - 1)),
        "green": dc_ir * 0.5 * (1 - 0.13 * (tone - 1)),
    }
    ac_fraction = {"ir": pi, "red": pi * r[:, None], "green": pi * 2.5}

    # Shared slow terms, expressed relative to the IR pulse size so that they scale with perfusion.
    breathing = rng.uniform(0.15, 0.8, (n, 1)) * np.cos(x.breathing_phase)
    wander = rng.uniform(0.2, 1.5, (n, 1)) * artifacts.drift(n, device.fs, n_samples, rng)
    moving = artifacts.motion(x.motion_level, device.fs, n_samples, rng)
    scale = np.where(x.motion_level == 2, rng.uniform(1.0, 4.0, n), rng.uniform(0.5, 2.0, n))[:, None]
    baseline = pi * (breathing + wander)

    names = ("red", "ir", "green") if device.has_green else ("red", "ir")
    out = {}
    for name in names:
        coupling = rng.uniform(0.75, 1.25, (n, 1))  # motion changes each wavelength's path differently
        relative = 1 + baseline + pi * scale * coupling * moving
        intensity = dc[name][:, None] * relative * (1 - ac_fraction[name] * x.pulse)
        out[name] = artifacts.digitise(intensity, full_scale, device.noise_counts, rng)
    return out
