"""One row of scalars per window: identity, labels, sampling, and signal quality per channel.

Expectations and drift checks run on this frame, never on the raw signals, so validating a batch costs
one pass of the quality features plus column checks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ppg_models.data.quality import batch_quality
from ppg_models.tasks import CHANNELS, TASK_NAMES

SCALAR_COLUMNS = (
    "window_id", "subject_id", "source", "device", "fs", *TASK_NAMES, "skin_tone", "motion", "recorded_at"
)  # fmt: skip


def present_channels(table: pa.Table) -> list[str]:
    return [ch for ch in CHANNELS if table.column(ch).null_count < table.num_rows]


def window_frame(table: pa.Table, sampling_rates: list[float], workers: int = 2) -> pd.DataFrame:
    """The scalar frame of a conformed batch; quality is computed only at supported sampling rates."""
    frame = table.select(list(SCALAR_COLUMNS)).to_pandas()
    for task in TASK_NAMES:
        frame[task] = frame[task].astype("float64")  # nullable ints become NaN-able floats
    lengths = {ch: pc.list_value_length(table.column(ch)).to_numpy(zero_copy_only=False) for ch in CHANNELS}
    reference = pc.coalesce(*[pc.list_value_length(table.column(ch)) for ch in CHANNELS])
    fs = frame["fs"].to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(all="ignore"):
        frame["duration_s"] = reference.to_numpy(zero_copy_only=False).astype(np.float64) / fs
    for ch in present_channels(table):
        frame[f"{ch}_samples"] = np.asarray(lengths[ch], dtype=np.float64)
    supported = np.isin(fs, np.asarray(sampling_rates, dtype=np.float64))
    if supported.all():
        quality = batch_quality(table, workers=workers)
    elif supported.any():
        quality = batch_quality(table.filter(pa.array(supported)), workers=workers)
    else:
        quality = pd.DataFrame(index=range(0))
    rows = np.flatnonzero(supported)
    for column in quality.columns:
        values = np.full(len(frame), np.nan)
        values[rows] = quality[column].to_numpy()
        frame[column] = values
    return frame
