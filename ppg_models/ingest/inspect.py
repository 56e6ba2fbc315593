"""Checks of one incoming file that need no expectation engine: name, size, type, contract, source.

``inspect_file`` never raises for bad input: every problem becomes a ``Finding``, and the table and
window frame are returned only when the file could be read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa

from ppg_models.data.batch_io import read_table
from ppg_models.data.schema import BatchFormatError, row_problems
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
    table: pa.Table | None = None
    frame: pd.DataFrame | None = None
    source: str | None = None

    @property
    def windows(self) -> int:
        return 0 if self.table is None else self.table.num_rows


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


def _contract_findings(table: pa.Table) -> list[Finding]:
    return [
        Finding(
            check="contract",
            column=p.column,
            observed=p.problem,
            allowed="the batch contract (docs/batch-format.md)",
            scope="window",
            window_ids=p.window_ids,
            engine="contract",
        )
        for p in row_problems(table)
    ]


def _source_findings(table: pa.Table, policy: IngestPolicy) -> tuple[str | None, list[Finding]]:
    sources = sorted({s for s in table.column("source").to_pylist() if s is not None})
    if len(sources) != 1:
        return None, [Finding("source", "source", f"sources {sources}", "exactly one source per batch")]
    source = sources[0]
    if source not in policy.sources:
        known = ", ".join(sorted(policy.sources))
        return None, [
            Finding("source", "source", f"unknown source {source!r}", f"a registered source: {known}")
        ]
    return source, []


def inspect_file(path: Path, policy: IngestPolicy, sha256: str | None = None) -> Inspection:
    """Hash (unless given), read and pre-check ``path``; bad files give findings, not exceptions."""
    size = path.stat().st_size
    found = Inspection(path=path, sha256=sha256 or sha256_file(path), size=size)
    found.findings += _file_findings(path, size, policy)
    if any(f.check in ("file_size", "file_type") for f in found.findings):
        return found  # not read: too large, or not a Parquet batch at all
    try:
        table = read_table(path)
    except BatchFormatError as exc:
        check = "schema" if exc.column else "unreadable"
        found.findings.append(
            Finding(check, exc.column, exc.problem, "the batch contract", engine="contract")
        )
        return found
    if table.num_rows == 0:
        found.findings.append(Finding("empty", None, "0 windows", "at least one window"))
        return found
    found.table = table
    found.findings += _contract_findings(table)
    found.source, problems = _source_findings(table, policy)
    found.findings += problems
    found.frame = window_frame(table, policy.sampling_rates)
    return found
