"""Read and write labeled batch files, refusing any file that breaks the contract in schema.py."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ppg_models.data.schema import (
    BATCH_SCHEMA,
    SCHEMA_VERSION,
    VERSION_KEY,
    BatchFormatError,
    conform,
    row_problems,
)

ROW_GROUP_WINDOWS = 4096  # readers stream a file one row group at a time: this bounds their memory


def _schema_version(path: Path, metadata: dict[bytes, bytes] | None) -> None:
    raw = (metadata or {}).get(VERSION_KEY)
    if raw is None:
        return  # written by another tool: judged on its columns alone
    try:
        version = int(raw)
    except ValueError:
        raise BatchFormatError(path, None, f"schema version {raw!r} is not a number") from None
    if version > SCHEMA_VERSION:
        raise BatchFormatError(
            path,
            None,
            f"written with batch schema version {version}; this reader knows up to {SCHEMA_VERSION}",
        )


def _present(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path, or BatchFormatError when there is no file or it is empty."""
    path = Path(path)
    if not path.is_file():
        raise BatchFormatError(path, None, "no such file")
    if path.stat().st_size == 0:
        raise BatchFormatError(path, None, "file is empty (0 bytes)")
    return path


def read_table(path: str | os.PathLike[str]) -> pa.Table:
    """Read a Parquet file and conform its columns and types; row contents are not checked."""
    path = _present(path)
    try:
        _schema_version(path, pq.read_schema(path).metadata)
        table = pq.read_table(path)  # column chunks decoded on threads: about 2x ParquetFile.read
    except BatchFormatError:
        raise
    except (pa.ArrowException, OSError) as exc:
        raise BatchFormatError(path, None, f"not a readable Parquet file ({exc})") from None
    return conform(table, path)


def read_small(path: str | os.PathLike[str], columns: list[str] | None = None) -> pa.Table:
    """A small Parquet file read whole, for the lake's own per-batch files; with ``columns``, those of
    them the file has.

    ``ParquetFile.read`` takes ~1 ms on a 1k-row frame where ``pq.read_table`` takes ~13 ms (its
    dataset layer and thread pool): a run filing 50 small batches read such files 100 times.
    """
    with pq.ParquetFile(path) as reader:
        names = reader.schema_arrow.names
        return reader.read(columns=None if columns is None else [c for c in columns if c in names])


def iter_tables(path: str | os.PathLike[str], rows: int) -> Iterator[pa.Table]:
    """The file's rows ``rows`` at a time, each chunk conformed: memory bounded by the chunk and the
    file's row groups (``write_batch`` writes ROW_GROUP_WINDOWS per group), not by the file.

    Raises BatchFormatError (as ``read_table`` does) for a file that cannot be read, also midway.
    """
    path = _present(path)
    try:
        with pq.ParquetFile(path, pre_buffer=False, buffer_size=8 << 20) as reader:
            _schema_version(path, reader.schema_arrow.metadata)
            conform(reader.schema_arrow.empty_table(), path)  # column problems before any row is read
            for batch in reader.iter_batches(batch_size=rows):
                yield conform(pa.Table.from_batches([batch]), path)
    except BatchFormatError:
        raise
    except (pa.ArrowException, OSError) as exc:
        raise BatchFormatError(path, None, f"not a readable Parquet file ({exc})") from None


def row_count(path: str | os.PathLike[str]) -> int:
    """Rows in a readable Parquet file, from its footer (0 when it cannot be read)."""
    try:
        return pq.ParquetFile(path).metadata.num_rows
    except (pa.ArrowException, OSError):
        return 0


def check_rows(table: pa.Table, path: object = "<table>") -> pa.Table:
    """Raise BatchFormatError listing every row-level problem of a conformed table."""
    problems = row_problems(table)
    if problems:
        first = problems[0]
        details = "; ".join(p.describe() for p in problems)
        raise BatchFormatError(path, first.column, details.removeprefix(f"column {first.column!r}: "))
    return table


def read_batch(path: str | os.PathLike[str]) -> pa.Table:
    """Read a batch file that follows the contract, or raise BatchFormatError naming the problem."""
    return check_rows(read_table(path), path)


def write_batch(table: pa.Table, path: str | os.PathLike[str]) -> Path:
    """Check ``table`` against the contract and write it atomically (never a half-written file)."""
    path = Path(path)
    table = check_rows(conform(table, path), path)
    table = table.replace_schema_metadata(BATCH_SCHEMA.metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd", row_group_size=ROW_GROUP_WINDOWS)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
