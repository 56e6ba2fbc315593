"""Simulated devices and data sources: how they differ in hardware, population and labeling."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceSpec:
    """A PPG sensor model: sampling, converter and optics that differ between products."""

    name: str
    fs: float  # Hz
    adc_bits: int
    dc_level: float  # IR DC level for Fitzpatrick type 1, as a fraction of full scale
    noise_counts: float  # electronic noise, standard deviation in ADC counts
    r_offset: float  # calibration offset of the ratio of ratios (device-specific SpO2 bias)
    has_green: bool = False
    clip_probability: float = 0.02  # share of windows recorded with too much gain (flat tops)


@dataclass(frozen=True)
class SourceSpec:
    """A site or study contributing batches: its devices, population and which tasks it labels."""

    name: str
    devices: tuple[str, ...]
    labels: tuple[str, ...]
    motion_mix: tuple[float, float, float]  # share of windows with motion none / low / high
    age_range: tuple[float, float]
    af_prevalence: float  # share of subjects with atrial fibrillation
    ectopy_prevalence: float  # share of non-AF subjects with premature beats (AF look-alikes)
    spo2_base: tuple[float, float]  # range of the subjects' usual saturation (%)
    desaturation_rate: float  # share of windows inside a desaturation event
    perfusion_range: tuple[float, float]  # IR AC/DC ratio
    resting_hr: tuple[float, float] = (70.0, 10.0)  # mean and SD of the subjects' resting heart rate, bpm
    skin_tone_weights: tuple[float, ...] = (0.15, 0.25, 0.2, 0.15, 0.15, 0.1)
    pool_size: int = 240  # subjects the source ever contributes
    windows_per_session: tuple[int, int] = (6, 30)


DEVICES: dict[str, DeviceSpec] = {
    d.name: d
    for d in (
        DeviceSpec("bedside-monitor", fs=125.0, adc_bits=16, dc_level=0.55, noise_counts=3.0, r_offset=0.0),
        DeviceSpec("finger-clip", fs=250.0, adc_bits=18, dc_level=0.6, noise_counts=6.0, r_offset=-0.012),
        DeviceSpec(
            "wrist-band",
            fs=100.0,
            adc_bits=16,
            dc_level=0.45,
            noise_counts=8.0,
            r_offset=0.02,
            has_green=True,
            clip_probability=0.04,
        ),
    )
}

SOURCES: dict[str, SourceSpec] = {
    s.name: s
    for s in (
        SourceSpec(
            "icu",
            devices=("bedside-monitor",),
            labels=("hr", "spo2", "rr", "sbp", "dbp"),
            motion_mix=(0.85, 0.15, 0.0),
            age_range=(45, 88),
            af_prevalence=0.15,
            ectopy_prevalence=0.25,
            spo2_base=(90.0, 99.0),
            desaturation_rate=0.08,
            perfusion_range=(0.003, 0.03),
            resting_hr=(84.0, 17.0),  # ICU: fever, sepsis, pain and AF make tachycardia common
        ),
        SourceSpec(
            "wearable",
            devices=("wrist-band",),
            labels=("hr", "af"),
            motion_mix=(0.5, 0.3, 0.2),
            age_range=(25, 80),
            af_prevalence=0.3,
            ectopy_prevalence=0.25,
            spo2_base=(95.0, 99.5),
            desaturation_rate=0.0,
            perfusion_range=(0.004, 0.02),
        ),
        SourceSpec(
            "sleep-lab",
            devices=("finger-clip",),
            labels=("hr", "rr", "spo2"),
            motion_mix=(0.8, 0.2, 0.0),
            age_range=(30, 75),
            af_prevalence=0.05,
            ectopy_prevalence=0.15,
            spo2_base=(93.0, 99.0),
            desaturation_rate=0.25,
            perfusion_range=(0.008, 0.05),
            resting_hr=(62.0, 9.0),  # asleep
        ),
    )
}

WINDOW_SECONDS = 10.0


def get_source(name: str) -> SourceSpec:
    try:
        return SOURCES[name]
    except KeyError:
        raise KeyError(f"unknown source {name!r}; known sources: {', '.join(SOURCES)}") from None
