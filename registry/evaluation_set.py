"""A version's evaluation set: window ids of a lake dataset version, pinned when it is registered.

At registration the registry splits the version's dataset itself (today's split rule, once) and
refuses a run whose test windows differ; the sorted ids and their SHA-256 are stored in the registry
database. Every later verdict loads exactly those windows by id from the hash-checked dataset version,
so a change of the split rule or of the configuration format never changes what a version is judged on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ppg_models.lake.dataset import windows_by_id
from ppg_models.lake.store import Lake
from ppg_models.training.config import TrainConfig
from ppg_models.training.data import WindowSet, windows_from_table
from ppg_models.training.run import RunResult, split_tables
from registry.db import eval_sets, reading


class EvaluationSetError(ValueError):
    """A run whose evaluation windows cannot be pinned, or a pinned set that no longer loads."""


@dataclass(frozen=True)
class EvaluationSet:
    dataset_version: str
    window_ids: tuple[str, ...]  # sorted
    sha256: str

    def row(self) -> dict[str, Any]:
        return {
            "dataset_version": self.dataset_version,
            "window_ids": json.dumps(list(self.window_ids)),
            "sha256": self.sha256,
        }


def digest(dataset_version: str, window_ids: tuple[str, ...]) -> str:
    return hashlib.sha256("\n".join((dataset_version, *window_ids)).encode()).hexdigest()


def pin(run: RunResult, config: TrainConfig) -> EvaluationSet:
    """The test windows of ``run``'s dataset version, split by the registry, checked against the run's."""
    dataset = config.data.dataset
    if not dataset or dataset == "latest":
        raise EvaluationSetError(
            "only models trained on a pinned lake dataset version (data.dataset: ds-...) can be registered:"
            " the gate must be able to load their evaluation windows again by id"
        )
    ids = tuple(sorted(map(str, split_tables(config)["test"].column("window_id").to_pylist())))
    reported = set(map(str, run.report.predictions["window_id"]))
    if set(ids) != reported:
        raise EvaluationSetError(
            f"the run was evaluated on {len(reported)} windows, but its configuration's test split of"
            f" {dataset} has {len(ids)} ({len(reported ^ set(ids))} differ): it cannot be registered"
        )
    return EvaluationSet(dataset, ids, digest(dataset, ids))


def load(version: str) -> EvaluationSet:
    """The pinned set of a registered version, its hash checked."""
    with reading() as conn:
        row = conn.execute(select(eval_sets).where(eval_sets.c.version == version)).first()
    if row is None:
        raise EvaluationSetError(f"version {version} has no pinned evaluation set in the registry")
    ids = tuple(json.loads(row.window_ids))
    if digest(row.dataset_version, ids) != row.sha256:
        raise EvaluationSetError(f"version {version}: its pinned evaluation set was changed (hash mismatch)")
    return EvaluationSet(row.dataset_version, ids, row.sha256)


def windows(pinned: EvaluationSet) -> WindowSet:
    """Exactly the pinned windows, from the hash-checked dataset version."""
    return windows_from_table(windows_by_id(Lake(), pinned.dataset_version, list(pinned.window_ids)))
