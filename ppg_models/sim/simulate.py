"""Assemble simulated labeled batches that follow the batch contract.

``simulate_batch(source, seed, batch_index, n_windows)`` is deterministic: the same arguments give the
same table, bit for bit. Subjects belong to their source's pool for the seed, so a subject recurs across
batches and subject-wise splits mean something.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from ppg_models.data.arrays import to_list_array
from ppg_models.data.batch_io import write_batch
from ppg_models.data.schema import BATCH_SCHEMA, MOTION_LEVELS
from ppg_models.sim.catalog import DEVICES, SOURCES, WINDOW_SECONDS, get_source
from ppg_models.sim.optics import OpticalInputs, render_channels
from ppg_models.sim.pulse import pulse_shape, render_pulse
from ppg_models.sim.rhythm import beats_per_minute, draw_beats, draw_breathing
from ppg_models.sim.subjects import SubjectPool, WindowState, draw_states, make_pool, source_code
from ppg_models.tasks import TASKS

CHUNK = 256  # windows rendered at once: bounds memory at 250 Hz
_EPOCH = np.datetime64("2026-01-05T00:00:00", "ms")


@functools.lru_cache(maxsize=16)
def _pool(source: str, seed: int) -> SubjectPool:
    return make_pool(get_source(source), seed)


def _render(
    idx: np.ndarray, state: WindowState, pool: SubjectPool, device_name: str, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Signals and measured labels for the windows ``idx`` recorded on one device."""
    device = DEVICES[device_name]
    subj = state.subject[idx]
    n_samples = round(WINDOW_SECONDS * device.fs)
    breathing = draw_breathing(state.rr[idx], rng)
    beats = draw_beats(
        state.hr[idx],
        state.af[idx],
        pool.ectopy_rate[subj],
        pool.rsa_depth[subj],
        breathing,
        WINDOW_SECONDS,
        rng,
    )
    shape = pulse_shape(
        state.sbp[idx], state.dbp[idx], state.hr[idx], pool.stiffness[subj], pool.path_length[subj], rng
    )
    t = np.arange(n_samples)[None, :] / device.fs
    optical = OpticalInputs(
        pulse=render_pulse(beats, shape, device.fs, n_samples),
        breathing_phase=breathing.phase(t),
        spo2=state.spo2[idx],
        perfusion=state.perfusion[idx],
        skin_tone=pool.skin_tone[subj],
        motion_level=state.motion[idx],
    )
    channels = render_channels(optical, device, rng)
    labels = {
        "hr": beats_per_minute(beats.onsets, WINDOW_SECONDS),
        "spo2": state.spo2[idx],
        "rr": breathing.breaths_per_minute(WINDOW_SECONDS),
        "sbp": state.sbp[idx],
        "dbp": state.dbp[idx],
        "af": state.af[idx].astype(np.int8),
    }
    return channels, labels


def simulate_batch(source: str, seed: int, batch_index: int, n_windows: int) -> pa.Table:
    """One batch of ``n_windows`` windows from ``source``, as a table that follows the contract."""
    spec = get_source(source)
    if n_windows < 1:
        raise ValueError(f"n_windows must be at least 1, got {n_windows}")
    pool = _pool(source, seed)
    rng = np.random.default_rng([seed, source_code(source), batch_index + 1])
    state = draw_states(spec, pool, n_windows, batch_index, rng)
    device_of = np.array(spec.devices)[state.subject % len(spec.devices)]

    order, chunks = [], []
    for device_name in spec.devices:
        rows = np.flatnonzero(device_of == device_name)
        for start in range(0, rows.size, CHUNK):
            idx = rows[start : start + CHUNK]
            order.append(idx)
            chunks.append(_render(idx, state, pool, device_name, rng))
    order_idx = np.concatenate(order)
    inverse = np.argsort(order_idx)

    def gather(parts: list[pa.Array | None], kind: pa.DataType) -> pa.Array:
        filled = [
            pa.nulls(len(o), kind) if p is None else p.cast(kind) for p, o in zip(parts, order, strict=True)
        ]
        return pa.concat_arrays(filled).take(pa.array(inverse))

    signal_type = BATCH_SCHEMA.field("ir").type
    signals = {
        ch: gather([to_list_array(c[0][ch]) if ch in c[0] else None for c in chunks], signal_type)
        for ch in ("red", "ir", "green")
    }
    labels = {}
    for task in TASKS:
        kind = BATCH_SCHEMA.field(task.name).type
        if task.name in spec.labels:
            labels[task.name] = gather([pa.array(c[1][task.name]) for c in chunks], kind)
        else:
            labels[task.name] = pa.nulls(n_windows, kind)

    session_start = _EPOCH + (rng.integers(0, 300 * 24 * 3600, pool.ids.size) * 1000).astype(
        "timedelta64[ms]"
    )
    recorded = session_start[state.subject] + (state.session_pos * int(WINDOW_SECONDS * 1000)).astype(
        "timedelta64[ms]"
    )
    fs = np.array([DEVICES[d].fs for d in device_of])
    prefix = f"{source}-s{seed}-b{batch_index:04d}-w"
    data = {
        "window_id": pa.array([f"{prefix}{i:06d}" for i in range(n_windows)]),
        "subject_id": pa.array(pool.ids[state.subject]),
        "source": pa.array([source] * n_windows),
        "device": pa.array(device_of),
        "fs": pa.array(fs),
        **signals,
        **labels,
        "skin_tone": pa.array(pool.skin_tone[state.subject].astype(np.int8)),
        "motion": pa.array(np.array(MOTION_LEVELS)[state.motion]),
        "recorded_at": pa.array(recorded, pa.timestamp("ms", tz="UTC")),
    }
    return pa.Table.from_pydict(data, schema=BATCH_SCHEMA)


def batch_sources(n_batches: int, source: str | None = None) -> list[str]:
    """The source of each batch: ``source`` throughout, or every source in turn."""
    names = [get_source(source).name] if source else list(SOURCES)
    return [names[b % len(names)] for b in range(n_batches)]


def write_simulated(
    out_dir: str | Path,
    n_batches: int,
    n_windows: int,
    seed: int,
    source: str | None = None,
    on_batch: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Write ``n_batches`` simulated batch files to ``out_dir`` and return their paths."""
    out = Path(out_dir)
    paths = []
    for b, name in enumerate(batch_sources(n_batches, source)):
        path = write_batch(simulate_batch(name, seed, b, n_windows), out / f"{name}-s{seed}-b{b:04d}.parquet")
        paths.append(path)
        if on_batch:
            on_batch(path)
    return paths
