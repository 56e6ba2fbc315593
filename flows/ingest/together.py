"""Small files inspected and validated together before each is filed on its own.

Great Expectations' fixed cost per run (about 0.6 s) would dominate a folder of small files, so the flow
takes the waiting files in groups of at most ``GROUP_WINDOWS`` windows, reads each once, and validates
each group in one run (``GxValidator.validate_many``). Filing is unchanged: one file at a time, under
its claim and the commit lock, with the lake checks (duplicates, drift) made at that moment. A file
whose bytes changed after the group read it is read and validated again on its own; so is every file
of a group whose run failed. Nothing here writes to the lake.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from flows.ingest.gx_validator import GxValidator
from ppg_models.files import sha256_file
from ppg_models.ingest.findings import Finding
from ppg_models.ingest.inspect import Inspection, inspect_file
from ppg_models.ingest.policy import IngestPolicy
from ppg_models.lake.store import batch_id_of, file_stamp

GROUP_WINDOWS = 50_000  # windows validated in one run: about 15 MB of window frames


def groups(paths: list[Path], windows: dict[Path, int], limit: int = GROUP_WINDOWS) -> Iterator[list[Path]]:
    """The files in order, cut into runs of at most ``limit`` windows (a larger file is a group alone)."""
    group: list[Path] = []
    total = 0
    for path in paths:
        n = windows.get(path, 0)
        if group and total + n > limit:
            yield group
            group, total = [], 0
        group.append(path)
        total += n
    if group:
        yield group


class Prevalidated:
    """A group's inspections and validation results, each handed out once; a ``Validator`` that falls
    back to validating on its own any frame the group did not cover."""

    def __init__(self, validator: GxValidator) -> None:
        self.validator = validator
        self.inspections: dict[Path, Inspection] = {}
        self.results: dict[str, tuple[list[Finding], dict[str, Any]]] = {}

    def inspection(self, path: Path) -> Inspection | None:
        return self.inspections.pop(path, None)

    def __call__(
        self, frame: pd.DataFrame, claimed: list[str], batch_id: str
    ) -> tuple[list[Finding], dict[str, Any]]:
        done = self.results.pop(batch_id, None)
        return done if done is not None else self.validator(frame, claimed, batch_id)


def prevalidate(paths: list[Path], policy: IngestPolicy, validator: GxValidator) -> Prevalidated:
    """Read every file of a group once and validate the readable ones together."""
    out = Prevalidated(validator)
    items = []
    for path in paths:
        found = _read(path, policy)
        if found is not None:
            out.inspections[path] = found
            items.append((found.frame, list(policy.sources[found.source]), batch_id_of(found.sha256)))
    if len(items) > 1:
        out.results = validator.validate_many(items)
    return out


def _read(path: Path, policy: IngestPolicy) -> Inspection | None:
    """The file's inspection when it has windows of a known source and did not change while read."""
    try:
        before = file_stamp(path)
        found = inspect_file(path, policy, sha256_file(path))
        if found.frame is None or found.source is None or file_stamp(path) != before:
            return None
        found.stamp = before  # filing hashes the file again only when this changed
    except OSError:  # gone or unreadable now: filing will say why
        return None
    return found
