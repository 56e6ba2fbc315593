"""Helpers for lake and ingest tests: small batches, bad files, and where a file ended up."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ppg_models.data.arrays import to_list_array, to_matrix
from ppg_models.data.batch_io import write_batch
from ppg_models.lake.store import ACCEPTED, QUARANTINED, Lake
from ppg_models.sim.simulate import simulate_batch

_CACHE: dict[tuple[str, int, int], pa.Table] = {}


def small_batch(source: str = "icu", index: int = 0, windows: int = 60) -> pa.Table:
    key = (source, index, windows)
    if key not in _CACHE:
        _CACHE[key] = simulate_batch(source, seed=3, batch_index=index, n_windows=windows)
    return _CACHE[key]


def clean_batch(source: str = "icu", index: int = 0, windows: int = 60) -> pa.Table:
    """A batch without the simulator's few clipped windows, so that it is accepted whole."""
    from ppg_models.ingest.window_frame import window_frame

    table = small_batch(source, index, windows * 2)
    frame = window_frame(table, [100.0, 125.0, 250.0])
    ok = (frame.filter(like="clipped_frac").max(axis=1) < 0.2) & (
        frame.filter(like="flat_frac").max(axis=1) < 0.2
    )
    ok &= frame.filter(like="cardiac_power_ratio").min(axis=1) > 0.05
    ok &= frame.filter(like="perfusion_index").min(axis=1) > 0.05
    ok &= frame.filter(like="pulse_snr_db").min(axis=1) > 8.0
    return table.filter(pa.array(ok.to_numpy())).slice(0, windows)


def write_raw(table: pa.Table, path: Path) -> Path:
    """Write without the contract check (for files that break it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def replace_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)


def with_labels(table: pa.Table, name: str, rows: list[int], value: float) -> pa.Table:
    labels = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
    labels[rows] = value
    return replace_column(table, name, pa.array(labels, table.schema.field(name).type))


def with_ir(table: pa.Table, edit) -> pa.Table:
    ir = to_matrix(table.column("ir"))
    edit(ir)
    return replace_column(table, "ir", to_list_array(ir))


def write_good(table: pa.Table, path: Path) -> Path:
    return write_batch(table, path)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def places_of(lake: Lake, digest: str) -> list[str]:
    """Where a file with this content is: incoming, accepted, quarantine (a list, to catch doubles)."""
    found = [p.parent.parent.name for p in lake.root.glob("*/*/record.json") if _record_sha(p) == digest]
    found += ["incoming" for p in lake.incoming.iterdir() if p.is_file() and sha(p) == digest]
    return sorted(found)


def _record_sha(path: Path) -> str:
    return json.loads(path.read_text())["sha256"]


def stored_file(lake: Lake, digest: str) -> Path:
    for place in (ACCEPTED, QUARANTINED):
        directory = lake.batch_dir(digest[:16], place)
        if directory.is_dir():
            keep = {"record.json", "validation.json", "windows.parquet", "reason.json"}
            return next(p for p in directory.iterdir() if p.name not in keep)
    raise AssertionError(f"{digest[:16]} is in neither accepted nor quarantine")
