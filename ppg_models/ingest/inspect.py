"""Checks of one incoming file that need no expectation engine: name, size, type, contract, source.

``inspect_file`` never raises for bad input: every problem becomes a ``Finding``, and the window frame
is returned only when the file could be read. The file is read ``policy.chunk_windows`` rows at a time:
each chunk is checked against the contract and reduced to its scalar frame (about 0.3 KB a window), so
memory is bounded by the chunk, not by the file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa

from ppg_models.data.batch_io import iter_tables, row_count
from ppg_models.data.schema import REPEATED, BatchFormatError, RowProblem, repeated_ids, row_problems
from ppg_models.files import sha256_file
from ppg_models.ingest.findings import Finding
from ppg_models.ingest.policy import IngestPolicy
from ppg_models.ingest.window_frame import window_frame
from ppg_models.lake.store import SAFE_NAME, is_safe_name


@dataclass
class Inspection:
    path: Path
    sha256: str
    size: int
    findings: list[Finding] = field(default_factory=list)
    frame: pd.DataFrame | None = None  # one row of scalars per window, in file order
    source: str | None = None
    stamp: tuple[int, int] | None = None  # (size, mtime) when ``sha256`` was taken, where the caller knows it

    @property
    def windows(self) -> int:
        return 0 if self.frame is None else len(self.frame)


def _file_findings(path: Path, size: int, policy: IngestPolicy) -> list[Finding]:
    out = []
    if not is_safe_name(path.name):
        out.append(
            Finding(
                "file_name",
                None,
                f"name {path.name!r} has characters outside the safe set",
                SAFE_NAME.pattern,
            )
        )
    if path.suffix != ".parquet":
        out.append(
            Finding("file_type", None, f"suffix {path.suffix or '(none)'!r}", "'.parquet' batch files")
        )
    if size > policy.max_file_bytes:
        out.append(Finding("file_size", None, f"{size:,} bytes", f"at most {policy.max_file_bytes:,} bytes"))
    return out


def _contract_findings(problems: list[RowProblem]) -> list[Finding]:
    """One finding per (column, problem), the windows of every chunk together."""
    merged: dict[tuple[str, str], list[str]] = {}
    for p in problems:
        merged.setdefault((p.column, p.problem), []).extend(p.window_ids)
    return [
        Finding(
            check="contract",
            column=column,
            observed=problem,
            allowed="the batch contract (docs/batch-format.md)",
            scope="window",
            window_ids=tuple(ids),
            engine="contract",
        )
        for (column, problem), ids in merged.items()
    ]


def _source_findings(frame: pd.DataFrame, policy: IngestPolicy) -> tuple[str | None, list[Finding]]:
    sources = sorted({s for s in frame["source"].dropna().unique()})
    if len(sources) != 1:
        return None, [Finding("source", "source", f"sources {sources}", "exactly one source per batch")]
    source = sources[0]
    if source not in policy.sources:
        known = ", ".join(sorted(policy.sources))
        return None, [
            Finding("source", "source", f"unknown source {source!r}", f"a registered source: {known}")
        ]
    return source, []


Progress = Callable[[int, int], None]  # (windows read so far, windows in the file)


def inspect_file(
    path: Path, policy: IngestPolicy, sha256: str | None = None, on_chunk: Progress | None = None
) -> Inspection:
    """Hash (unless given), read and pre-check ``path`` chunk by chunk; bad files give findings."""
    size = path.stat().st_size
    found = Inspection(path=path, sha256=sha256 or sha256_file(path), size=size)
    found.findings += _file_findings(path, size, policy)
    if any(f.check in ("file_size", "file_type") for f in found.findings):
        return found  # not read: too large, or not a Parquet batch at all
    total, frames, problems = row_count(path), [], []
    try:
        for chunk in iter_tables(path, policy.chunk_windows):
            problems += row_problems(chunk, repeats=False)
            frames.append(window_frame(chunk, policy.sampling_rates))
            if on_chunk is not None:
                on_chunk(sum(len(f) for f in frames), total)
    except BatchFormatError as exc:
        check = "schema" if exc.column else "unreadable"
        found.findings.append(
            Finding(check, exc.column, exc.problem, "the batch contract", engine="contract")
        )
        return found
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if frame.empty:
        found.findings.append(Finding("empty", None, "0 windows", "at least one window"))
        return found
    repeated = repeated_ids(pa.array(frame["window_id"]))
    if repeated:
        ids = tuple(w for w in frame["window_id"] if w in repeated)
        problems.append(RowProblem("window_id", REPEATED, ids))
    found.frame = frame
    found.findings += _contract_findings(problems)
    found.source, source_problems = _source_findings(frame, policy)
    found.findings += source_problems
    return found
