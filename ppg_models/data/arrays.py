"""Zero-copy conversion between signal columns (list<float32>) and NumPy matrices."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa


def to_list_array(rows: np.ndarray | Sequence[np.ndarray | None]) -> pa.ListArray:
    """A list<float32> column from a (windows, samples) matrix or from per-row arrays (None = null)."""
    if isinstance(rows, np.ndarray) and rows.ndim == 2:
        n, length = rows.shape
        values = pa.array(np.ascontiguousarray(rows, dtype=np.float32).ravel())
        offsets = pa.array(np.arange(0, n * length + 1, length, dtype=np.int32))
        return pa.ListArray.from_arrays(offsets, values)
    arrays = [None if r is None else np.asarray(r, dtype=np.float32).ravel() for r in rows]
    lengths = np.array([0 if a is None else a.size for a in arrays], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    present = [a for a in arrays if a is not None]
    values = np.concatenate(present) if present else np.empty(0, np.float32)
    mask = pa.array([a is None for a in arrays])
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values), mask=mask)


def to_matrix(column: pa.ChunkedArray | pa.ListArray) -> np.ndarray:
    """A (windows, samples) float32 matrix from a list column whose rows all have one length.

    Null rows become rows of NaN. Raises ValueError when the rows differ in length: group windows by
    sampling rate (``group_by_length``) first.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    n = len(column)
    if n == 0:
        return np.empty((0, 0), np.float32)
    lengths = column.value_lengths().fill_null(-1).to_numpy()
    valid = lengths >= 0
    if not valid.any():
        raise ValueError("every row of the channel is null")
    length = int(lengths[valid][0])
    if (lengths[valid] != length).any():
        raise ValueError(f"rows differ in length ({sorted(set(lengths[valid].tolist()))}); group them first")
    out = np.full((n, length), np.nan, np.float32)
    flat = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    out[valid] = flat.reshape(int(valid.sum()), length)
    return out


def group_by_length(column: pa.ChunkedArray | pa.ListArray) -> dict[int, np.ndarray]:
    """Row indices of a list column grouped by row length (null rows left out)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    lengths = column.value_lengths().fill_null(-1).to_numpy()
    return {int(k): np.flatnonzero(lengths == k) for k in np.unique(lengths) if k >= 0}
