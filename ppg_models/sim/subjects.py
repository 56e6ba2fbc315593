"""Simulated subjects: lasting traits, and the per-window physiological state of a recording session."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from ppg_models.sim.catalog import SourceSpec


def source_code(name: str) -> int:
    """A stable integer for a source name, used to seed its random streams."""
    return zlib.crc32(name.encode())


@dataclass(frozen=True)
class SubjectPool:
    """Lasting traits of every subject a source contributes; index i is subject ``ids[i]``."""

    ids: np.ndarray  # (subjects,) str
    age: np.ndarray  # years
    resting_hr: np.ndarray  # bpm
    resting_rr: np.ndarray  # breaths/min
    resting_sbp: np.ndarray  # mmHg
    resting_dbp: np.ndarray  # mmHg
    stiffness: np.ndarray  # arterial stiffness factor, 1 = typical for a 45-year-old
    path_length: np.ndarray  # m, heart to reflection site (scales with height)
    perfusion: np.ndarray  # IR AC/DC ratio
    skin_tone: np.ndarray  # Fitzpatrick 1-6
    has_af: np.ndarray  # bool
    ectopy_rate: np.ndarray  # premature beats per beat (0 for most)
    spo2_base: np.ndarray  # %
    rsa_depth: np.ndarray  # respiratory sinus arrhythmia, fraction of the beat interval


def make_pool(source: SourceSpec, seed: int) -> SubjectPool:
    """The source's subjects for ``seed``: the same traits every time, whatever batch asks."""
    rng = np.random.default_rng([seed, source_code(source.name), 0])
    n = source.pool_size
    age = rng.uniform(*source.age_range, n)
    aging = (age - 45.0) / 20.0
    stiffness = np.clip(1.0 + 0.35 * aging + rng.normal(0, 0.18, n), 0.55, 2.2)
    resting_sbp = np.clip(118 + 9 * aging + 14 * (stiffness - 1) + rng.normal(0, 11, n), 90, 190)
    pulse_pressure = np.clip(38 + 10 * (stiffness - 1) + 4 * aging + rng.normal(0, 6, n), 22, 90)
    has_af = rng.random(n) < source.af_prevalence * np.clip(0.6 + 0.5 * aging, 0.2, 1.6)
    ectopic = ~has_af & (rng.random(n) < source.ectopy_prevalence)
    resting_hr = np.clip(rng.normal(*source.resting_hr, n) + 8 * has_af, 42, 140)
    return SubjectPool(
        ids=np.array([f"{source.name}-{i:04d}" for i in range(n)]),
        age=age,
        resting_hr=_heart_rate_cohorts(resting_hr, seed, source),
        resting_rr=np.clip(rng.normal(15, 3.5, n), 7, 28),
        resting_sbp=resting_sbp,
        resting_dbp=np.maximum(resting_sbp - pulse_pressure, 45),
        stiffness=stiffness,
        path_length=np.clip(rng.normal(0.52, 0.05, n), 0.4, 0.65),
        perfusion=np.exp(rng.uniform(*np.log(source.perfusion_range), n)),
        skin_tone=rng.choice(
            np.arange(1, 7), n, p=np.asarray(source.skin_tone_weights) / sum(source.skin_tone_weights)
        ),
        has_af=has_af,
        ectopy_rate=np.where(ectopic, rng.uniform(0.02, 0.12, n), 0.0),
        spo2_base=rng.uniform(*source.spo2_base, n),
        rsa_depth=np.clip(0.07 - 0.025 * aging + rng.normal(0, 0.015, n), 0.005, 0.12),
    )


TACHYCARDIA, BRADYCARDIA = 0.08, 0.05  # shares of subjects whose resting rate is far from the middle


def _heart_rate_cohorts(resting_hr: np.ndarray, seed: int, source: SourceSpec) -> np.ndarray:
    """Resting rates with tachycardia (120-205 bpm) and bradycardia (32-50 bpm) cohorts, drawn from a
    stream of their own so that every other trait of every subject stays as it was."""
    rng = np.random.default_rng([seed, source_code(source.name), 1])
    u = rng.random(resting_hr.size)
    tachy, brady = u < TACHYCARDIA, u > 1 - BRADYCARDIA
    out = resting_hr.copy()
    out[tachy] = rng.uniform(120, 205, int(tachy.sum()))
    out[brady] = rng.uniform(32, 50, int(brady.sum()))
    return out


@dataclass(frozen=True)
class WindowState:
    """Physiological targets for each window (what the body is doing, before beats are drawn)."""

    subject: np.ndarray  # (windows,) index into the pool
    session_pos: np.ndarray  # window position inside its session
    hr: np.ndarray  # target mean heart rate, bpm
    rr: np.ndarray  # target respiratory rate, breaths/min
    sbp: np.ndarray
    dbp: np.ndarray
    spo2: np.ndarray  # arterial saturation, %
    af: np.ndarray  # bool: the window is in atrial fibrillation
    motion: np.ndarray  # 0 none, 1 low, 2 high
    perfusion: np.ndarray


COHORT = 40  # subjects enrolled at the time of one batch
COHORT_SHIFT = 20  # new subjects per batch: consecutive batches share half their subjects


def draw_sessions(
    source: SourceSpec, pool: SubjectPool, n_windows: int, batch_index: int, rng: np.random.Generator
) -> np.ndarray:
    """Subject index per window: contiguous sessions of several windows each.

    Subjects come from the cohort enrolled when the batch was recorded, which slides through the pool,
    so a subject recurs in neighbouring batches as patients do in a running study.
    """
    lo, hi = source.windows_per_session
    lengths: list[int] = []
    while sum(lengths) < n_windows:
        lengths.append(int(rng.integers(lo, hi + 1)))
    lengths[-1] -= sum(lengths) - n_windows
    cohort = (batch_index * COHORT_SHIFT + np.arange(COHORT)) % len(pool.ids)
    subjects = rng.choice(cohort, size=len(lengths), replace=len(lengths) > cohort.size)
    return np.repeat(subjects, lengths)


def draw_states(
    source: SourceSpec, pool: SubjectPool, n_windows: int, batch_index: int, rng: np.random.Generator
) -> WindowState:
    """Per-window targets: slow within-session drift around each subject's resting values."""
    subj = draw_sessions(source, pool, n_windows, batch_index, rng)
    starts = np.r_[True, subj[1:] != subj[:-1]]
    session_id = np.cumsum(starts) - 1
    pos = np.arange(n_windows) - np.flatnonzero(starts)[session_id]
    walk = _session_walk(session_id, starts, rng)  # (windows,) slow drift, std ~1
    motion = rng.choice(3, n_windows, p=source.motion_mix)
    hr = pool.resting_hr[subj] + 5 * walk + np.where(motion == 2, rng.uniform(10, 35, n_windows), 0)
    hr = np.clip(hr + rng.normal(0, 2, n_windows), 30, 220)
    hr_excess = hr - pool.resting_hr[subj]
    sbp = pool.resting_sbp[subj] + 0.45 * hr_excess + 6 * walk + rng.normal(0, 4, n_windows)
    pp = pool.resting_sbp[subj] - pool.resting_dbp[subj]
    dbp = sbp - pp * (1 + 0.08 * walk) + rng.normal(0, 2.5, n_windows)
    dbp = np.clip(dbp, 40, sbp - 15)
    af = pool.has_af[subj] & (rng.random(n_windows) < 0.85)
    desat = rng.random(n_windows) < source.desaturation_rate
    spo2 = pool.spo2_base[subj] + 0.5 * walk - desat * rng.uniform(3, 18, n_windows)
    return WindowState(
        subject=subj,
        session_pos=pos,
        hr=hr,
        rr=np.clip(
            pool.resting_rr[subj] + 1.5 * walk + 3 * (motion == 2) + rng.normal(0, 1.2, n_windows), 6, 36
        ),
        sbp=np.clip(sbp, 75, 220),
        dbp=dbp,
        spo2=np.clip(spo2 + rng.normal(0, 0.4, n_windows), 70, 100),
        af=af,
        motion=motion,
        perfusion=pool.perfusion[subj] * np.exp(rng.normal(0, 0.15, n_windows)),
    )


def _session_walk(session_id: np.ndarray, starts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random walk that restarts at each session, scaled to stay near unit size."""
    steps = rng.normal(0, 0.35, session_id.size)
    steps[starts] = rng.normal(0, 1.0, int(starts.sum()))
    total = np.cumsum(steps)
    base = np.maximum.accumulate(np.where(starts, np.arange(session_id.size), 0))
    offset = np.where(base > 0, total[base - 1], 0.0)
    return np.tanh((total - offset) / 2.0) * 2.0
