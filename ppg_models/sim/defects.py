"""Defects a real feed delivers, injected into a simulated batch: for the demo, tests and benchmarks.

``corrupt_batch`` keeps the file inside the batch contract (so it reads fine) but spoils its content the
way a failing site does: NaN bursts from a loose sensor, flat lines, impossible heart rates and
swapped blood pressures. Ingest must quarantine it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ppg_models.data.arrays import to_list_array, to_matrix


def corrupt_batch(table: pa.Table, seed: int = 0, share: float = 0.3) -> pa.Table:
    """A copy of ``table`` with ``share`` of its windows spoilt in one of four ways."""
    rng = np.random.default_rng(seed)
    n = table.num_rows
    bad = rng.choice(n, size=max(1, int(share * n)), replace=False)
    kind = np.arange(len(bad)) % 4
    ir = to_matrix(table.column("ir"))
    nan_rows, flat_rows = bad[kind == 0], bad[kind == 1]
    ir[nan_rows, 200:700] = np.nan  # a 4 s dropout at 125 Hz
    ir[flat_rows] = ir[flat_rows, :1]  # sensor stuck at one value
    hr = table.column("hr").to_numpy(zero_copy_only=False).copy()
    hr[bad[kind == 2]] = 400.0  # outside any physiological range
    sbp = table.column("sbp").to_numpy(zero_copy_only=False).copy()
    dbp = table.column("dbp").to_numpy(zero_copy_only=False).copy()
    swap = bad[kind == 3]
    sbp[swap], dbp[swap] = dbp[swap].copy(), sbp[swap].copy()
    out = table.set_column(table.schema.get_field_index("ir"), "ir", to_list_array(ir))
    for name, values in (("hr", hr), ("sbp", sbp), ("dbp", dbp)):
        out = out.set_column(out.schema.get_field_index(name), name, pa.array(values, pa.float32()))
    return out
