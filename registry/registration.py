"""Register a finished training run: log it to MLflow, create the version, audit it, and gate it."""

from __future__ import annotations

from ppg_models.training.config import TrainConfig
from ppg_models.training.run import RunResult
from registry import evaluation_set
from registry.gating import GateResult, gate_version
from registry.promotion import record_registration
from registry.review import summary_of
from registry.run_logging import log_run, register
from registry.users import User


def register_run(run: RunResult, config: TrainConfig, user: User) -> GateResult:
    """Log, register and judge ``run`` as ``user`` (a trainer or admin); returns the gate's result."""
    user.require("register")
    pinned = evaluation_set.pin(run, config)  # before anything is written: a run that cannot be judged stops
    run_id = log_run(run, config, user.name)
    version = register(run_id, run, user.name)
    evidence = {
        "run_id": run_id,
        "weights_sha256": run.weights_sha256,
        "dataset_version": config.data.dataset,
        "report_test_windows": run.splits.get("test"),
    }
    summary = summary_of(run_id, run, config)
    record_registration(version, user, evidence, pinned.row(), run.bundle_sha256, summary)
    return gate_version(version, user)
