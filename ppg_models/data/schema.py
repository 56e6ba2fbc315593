"""The labeled-batch contract: one Parquet file, one row per window (see docs/batch-format.md).

``BATCH_SCHEMA`` is derived from the task catalogue: one nullable label column per task.
``conform`` checks a table's columns and types (casting only where no information is lost in meaning,
e.g. large_string to string or list<double> to list<float32>); ``row_problems`` finds rows that break
the contract. Physiological plausibility of labels is the ingest flow's business, not the format's.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ppg_models.tasks import CHANNELS, TASKS

SCHEMA_VERSION = 1
VERSION_KEY = b"ppg.batch_schema_version"

ID_COLUMNS = ("window_id", "subject_id", "source", "device")
LABEL_COLUMNS = tuple(t.name for t in TASKS)
MOTION_LEVELS = ("none", "low", "high")
SKIN_TONES = (1, 2, 3, 4, 5, 6)  # Fitzpatrick
OPTIONAL_COLUMNS = frozenset({"green"})
NOT_NULL_COLUMNS = frozenset({*ID_COLUMNS, "fs"})
MIN_WINDOW_SECONDS = 2.0  # one cycle of a 30 bpm pulse: a shorter window is too short for any estimate

_SIGNAL = pa.list_(pa.float32())
_LABEL_TYPES = {"regression": pa.float32(), "binary": pa.int8()}

BATCH_SCHEMA = pa.schema(
    [pa.field(name, pa.string(), nullable=False) for name in ID_COLUMNS]
    + [pa.field("fs", pa.float64(), nullable=False)]
    + [pa.field(ch, _SIGNAL) for ch in CHANNELS]
    + [pa.field(t.name, _LABEL_TYPES[t.kind]) for t in TASKS]
    + [
        pa.field("skin_tone", pa.int8()),
        pa.field("motion", pa.string()),
        pa.field("recorded_at", pa.timestamp("ms", tz="UTC")),
    ],
    metadata={VERSION_KEY: str(SCHEMA_VERSION).encode()},
)


class BatchFormatError(ValueError):
    """A file that does not follow the batch contract; names the file, the column and the problem."""

    def __init__(self, path: object, column: str | None, problem: str) -> None:
        self.path = str(path)
        self.column = column
        self.problem = problem
        where = f"column {column!r}: " if column else ""
        super().__init__(f"{self.path}: {where}{problem}")


@dataclass(frozen=True)
class RowProblem:
    """Rows of a batch that break the contract in the same way."""

    column: str
    problem: str
    window_ids: tuple[str, ...]  # every offending window (may be long)

    def describe(self, limit: int = 5) -> str:
        shown = ", ".join(self.window_ids[:limit])
        more = f" and {len(self.window_ids) - limit} more" if len(self.window_ids) > limit else ""
        return f"column {self.column!r}: {self.problem} in {len(self.window_ids)} rows ({shown}{more})"


def _compatible(actual: pa.DataType, expected: pa.DataType) -> bool:
    """True when ``actual`` holds the same kind of values as ``expected`` (so a cast loses no meaning)."""
    t = pa.types
    if t.is_string(expected):
        return (
            t.is_string(actual)
            or t.is_large_string(actual)
            or t.is_string_view(actual)
            or (t.is_dictionary(actual) and _compatible(actual.value_type, expected))
        )
    if t.is_list(expected):
        is_list = t.is_list(actual) or t.is_large_list(actual) or t.is_fixed_size_list(actual)
        return is_list and (t.is_floating(actual.value_type) or t.is_integer(actual.value_type))
    if t.is_floating(expected):
        return t.is_floating(actual) or t.is_integer(actual)
    if t.is_integer(expected):
        return t.is_integer(actual) or t.is_boolean(actual)
    if t.is_timestamp(expected):
        return t.is_timestamp(actual)
    return actual.equals(expected)


def _cast_column(column: pa.ChunkedArray, field: pa.Field, path: object) -> pa.ChunkedArray:
    if column.type.equals(field.type):
        return column
    if not _compatible(column.type, field.type):
        raise BatchFormatError(path, field.name, f"expected {field.type}, found {column.type}")
    source = column
    if pa.types.is_timestamp(column.type) and column.type.tz is None:
        source = pc.assume_timezone(column, "UTC")  # naive timestamps are read as UTC (documented)
    try:
        return source.cast(field.type, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise BatchFormatError(
            path, field.name, f"cannot convert {column.type} to {field.type}: {exc}"
        ) from None


def conform(table: pa.Table, path: object = "<table>") -> pa.Table:
    """Return ``table`` with exactly the contract's columns, order and types, or raise BatchFormatError.

    Missing required columns and unknown extra columns are errors; an absent optional channel is
    added as all-null.
    """
    names = table.column_names
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise BatchFormatError(path, duplicated[0], "column appears more than once")
    expected = set(BATCH_SCHEMA.names)
    extra = [n for n in names if n not in expected]
    if extra:
        raise BatchFormatError(path, extra[0], f"unknown column (extra columns: {extra})")
    missing = [n for n in BATCH_SCHEMA.names if n not in names and n not in OPTIONAL_COLUMNS]
    if missing:
        raise BatchFormatError(path, missing[0], f"required column is missing (missing: {missing})")
    arrays = []
    for field in BATCH_SCHEMA:
        if field.name in names:
            arrays.append(_cast_column(table.column(field.name), field, path))
        else:
            arrays.append(pa.chunked_array([pa.nulls(table.num_rows, field.type)]))
    return pa.Table.from_arrays(arrays, schema=BATCH_SCHEMA)


def _window_ids(table: pa.Table, mask: pa.ChunkedArray | pa.Array) -> tuple[str, ...]:
    ids = table.column("window_id").filter(pc.fill_null(mask, False))
    return tuple("<null>" if v is None else v for v in ids.to_pylist())


REPEATED = "value repeats within the file"


def repeated_ids(ids: pa.ChunkedArray | pa.Array) -> set[str]:
    counts = pc.value_counts(ids.drop_null())
    return {v["values"].as_py() for v in counts if v["counts"].as_py() > 1}


def _rows_with_inf(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Per row of a list<float32> column: whether any sample is +-infinity (null rows: False)."""
    masks = []
    for chunk in column.chunks:
        flat_inf = pc.is_inf(pc.list_flatten(chunk))
        if not pc.any(flat_inf).as_py():  # the usual case: no row to find (a third of the cost)
            masks.append(pa.array(np.zeros(len(chunk), dtype=bool)))
            continue
        rows = pc.filter(pc.list_parent_indices(chunk), flat_inf)
        mask = pc.is_in(pa.array(range(len(chunk)), pa.int64()), pc.unique(rows).cast(pa.int64()))
        masks.append(mask)
    return pa.chunked_array(masks, pa.bool_())


def row_problems(table: pa.Table, repeats: bool = True) -> list[RowProblem]:
    """Every way the rows of a conformed table break the contract (empty list: the rows are fine).

    ``repeats=False`` leaves out the repeated-id check, for a caller that checks a file in chunks and
    looks for repeats across the whole file itself (``repeated_ids``).
    """
    problems: list[RowProblem] = []

    def check(column: str, problem: str, mask: pa.ChunkedArray | pa.Array) -> None:
        if pc.any(pc.fill_null(mask, False)).as_py():
            problems.append(RowProblem(column, problem, _window_ids(table, mask)))

    for name in sorted(NOT_NULL_COLUMNS):
        check(name, "value is missing (null)", pc.is_null(table.column(name)))
    for name in ID_COLUMNS:  # a blank subject would pool unrelated people into one: evidence is per subject
        blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(table.column(name))), 0)
        check(name, "value is empty (or only white space)", blank)
    ids = table.column("window_id")
    repeated = repeated_ids(ids) if repeats else set()
    if repeated:
        check("window_id", REPEATED, pc.is_in(ids, pa.array(sorted(repeated))))
    fs = table.column("fs")
    check("fs", "sampling rate is not a finite number (NaN or infinite)", pc.invert(pc.is_finite(fs)))
    check("fs", "sampling rate must be positive", pc.less_equal(fs, 0))
    for task in TASKS:
        if task.kind == "regression":
            check(
                task.name,
                "label is not a finite number (NaN or infinite; leave it null when not labeled)",
                pc.invert(pc.is_finite(table.column(task.name))),
            )
    for ch in CHANNELS:
        check(ch, "signal holds infinite samples (a missing sample is NaN)", _rows_with_inf(table.column(ch)))

    lengths = {ch: pc.list_value_length(table.column(ch)) for ch in CHANNELS}
    no_channel = reduce(pc.and_, [pc.is_null(lengths[ch]) for ch in CHANNELS])
    check("ir", "no signal channel present (red, ir and green are all null)", no_channel)
    reference = pc.coalesce(*[lengths[ch] for ch in CHANNELS])
    rate = pc.if_else(pc.and_(pc.is_finite(fs), pc.greater(fs, 0)), fs, None)  # bad rates: named above
    for ch in CHANNELS:
        check(ch, "signal is empty", pc.equal(lengths[ch], 0))
        check(ch, "channel length differs from the other channels", pc.not_equal(lengths[ch], reference))
        seconds = pc.divide(pc.cast(lengths[ch], pa.float64()), rate)
        short = pc.and_(pc.greater(lengths[ch], 0), pc.less(seconds, MIN_WINDOW_SECONDS))
        check(
            ch,
            f"signal is shorter than {MIN_WINDOW_SECONDS:g} s (samples / fs): too short to estimate",
            short,
        )

    def outside(column: str, allowed: pa.Array) -> pa.ChunkedArray:
        values = table.column(column)
        return pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, allowed)))

    for task in TASKS:
        if task.kind == "binary":
            check(task.name, "binary label must be 0 or 1", outside(task.name, pa.array([0, 1], pa.int8())))
    check(
        "skin_tone", "must be a Fitzpatrick type 1-6", outside("skin_tone", pa.array(SKIN_TONES, pa.int8()))
    )
    check("motion", f"must be one of {list(MOTION_LEVELS)}", outside("motion", pa.array(MOTION_LEVELS)))
    return problems
