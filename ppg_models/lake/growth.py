"""Whether the lake moved enough since a model's dataset version to retrain: the accepted windows added
since then, and the drift of their labels against that version's, source by source (``ingest.drift``).

Nothing here trains or reads a registry: the retraining flow hands in the champion's dataset version
and the limits, and records the decision with its reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa

from ppg_models.data.batch_io import read_table
from ppg_models.files import sha256_file
from ppg_models.ingest.drift import drift_findings
from ppg_models.ingest.policy import DriftPolicy, IngestPolicy
from ppg_models.lake.dataset import DatasetError, DatasetVersion, load_version, version_table
from ppg_models.lake.store import ACCEPTED, Lake, drop_windows
from ppg_models.tasks import TASK_NAMES


@dataclass(frozen=True)
class RetrainDecision:
    retrain: bool
    reason: str
    dataset: str  # the lake's newest version: what a retrain trains on
    base: str | None  # the champion's dataset version (None: no champion, or it was trained on files)
    new_batches: int = 0
    new_windows: int = 0
    drift: list[dict[str, str]] = field(default_factory=list)  # column, source, observed, allowed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def added_batches(base: DatasetVersion | None, latest: DatasetVersion) -> list[dict[str, Any]]:
    """Batches in ``latest`` that ``base`` does not hold (by content hash)."""
    held = {b["sha256"] for b in base.batches} if base else set()
    return [b for b in latest.batches if b["sha256"] not in held]


def _labels(table: pa.Table) -> pd.DataFrame:
    return table.select(["source", *(t for t in TASK_NAMES if t in table.column_names)]).to_pandas()


def _batch_labels(lake: Lake, batch: dict[str, Any]) -> pd.DataFrame:
    path = lake.batch_dir(batch["batch_id"], ACCEPTED) / "batch.parquet"
    if not path.is_file() or sha256_file(path) != batch["sha256"]:
        raise DatasetError(f"{path}: missing or changed since it was accepted")
    return _labels(drop_windows(read_table(path), batch["dropped"]))


def label_drift(lake: Lake, base: DatasetVersion, latest: DatasetVersion, limits: DriftPolicy) -> list[dict]:
    """Per source, the label columns of the added windows whose distribution moved against the base
    version's windows of that source beyond ``limits`` (PSI and KS, both)."""
    added = added_batches(base, latest)
    if not added:
        return []
    frame = pd.concat([_batch_labels(lake, b) for b in added], ignore_index=True)
    reference = _labels(version_table(lake, base.version)[1])
    policy = IngestPolicy(drift=limits)
    out = []
    for source, current in frame.groupby("source"):
        for finding in drift_findings(current, reference[reference["source"] == source], policy):
            out.append(
                {"source": str(source), "column": finding.column or "", "observed": finding.observed,
                 "allowed": finding.allowed}
            )  # fmt: skip
    return out


def retrain_decision(
    lake: Lake, base_version: str | None, min_new_windows: int, drift: DriftPolicy | None, force: bool = False
) -> RetrainDecision:
    """Retrain when forced, when there is no base to compare with, when at least ``min_new_windows``
    accepted windows were added since ``base_version``, or when the added labels drifted."""
    latest = load_version(lake)
    base = None
    if base_version and base_version.startswith("ds-"):
        base = load_version(lake, base_version)
    added = added_batches(base, latest)
    windows = sum(b["windows"] for b in added)  # accepted windows (dropped ones not counted)
    common = {"dataset": latest.version, "base": base.version if base else None,
              "new_batches": len(added), "new_windows": windows}  # fmt: skip
    if force:
        return RetrainDecision(True, "forced", **common)
    if base is None:
        why = "no champion" if base_version is None else f"the champion was trained on {base_version}"
        return RetrainDecision(True, f"{why}: nothing to compare the lake with", **common)
    if windows >= min_new_windows:
        return RetrainDecision(
            True, f"{windows} windows accepted since {base.version} (at least {min_new_windows})", **common
        )
    found = label_drift(lake, base, latest, drift) if drift is not None else []
    if found:
        columns = ", ".join(sorted({f"{d['source']}.{d['column']}" for d in found}))
        return RetrainDecision(True, f"labels drifted since {base.version}: {columns}", drift=found, **common)
    return RetrainDecision(
        False,
        f"{windows} windows accepted since {base.version} (below {min_new_windows}) and no label drift",
        **common,
    )
