"""The Prefect flow ``retrain``: ingest → decide → (search →) train → register and gate → approval.

Each step is a task whose body is one call into ``ppg_models`` or ``registry``, retried on transient
errors. A crashed run started again redoes nothing that finished: training continues from its
checkpoints in a run folder named by the dataset and configuration, and the registry registers given
weights once (``registry.retraining.register_once``), so the same model is never registered twice.
The decision and its reason go to MLflow and the audit log; a Markdown artifact summarises the run and
says how to approve; the run ends approved, or in the state ``NotApproved`` (rejected, timed out or not
promotable), never left paused.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import get_run_context
from prefect.states import Completed

from flows.retrain.approval import await_approval
from flows.retrain.config import RetrainConfig
from flows.retrain.report import retrain_report
from ppg_models.home import home_dir
from ppg_models.lake.growth import retrain_decision
from ppg_models.lake.store import Lake
from ppg_models.training.config import TrainConfig

RETRIES = 2
PASSWORD_ENV = "PPG_RETRAIN_PASSWORD"


@task(name="champion", retries=RETRIES, retry_delay_seconds=2, cache_policy=NO_CACHE)
def champion_task() -> dict[str, Any] | None:
    from registry.retraining import champion_basis

    return champion_basis()


@task(name="decide", retries=RETRIES, retry_delay_seconds=2, cache_policy=NO_CACHE)
def decide_task(base: str | None, config: RetrainConfig, force: bool) -> dict[str, Any]:
    return retrain_decision(Lake(), base, config.min_new_windows, config.drift, force).to_dict()


@task(name="record-decision", retries=RETRIES, retry_delay_seconds=2, cache_policy=NO_CACHE)
def record_decision_task(decision: dict[str, Any], flow_run: str, champion: str | None) -> str:
    from registry.retraining import record_decision

    return record_decision(decision, flow_run, champion)


@task(name="search", retries=1, cache_policy=NO_CACHE)
def search_task(search_config: str, dataset: str) -> dict[str, Any]:
    from flows.tune.config import TuneConfig
    from flows.tune.results import record
    from flows.tune.search import STATE, run_search, storage_root

    cfg = TuneConfig.from_yaml(search_config)
    data = cfg.base.data.model_copy(update={"dataset": dataset, "paths": []})
    cfg = cfg.model_copy(
        update={"name": f"{cfg.name}-{dataset}", "base": cfg.base.model_copy(update={"data": data})}
    )
    resume = (storage_root(cfg) / cfg.name / STATE).is_file()  # a restarted run continues its search
    outcome = run_search(cfg, resume, get_run_logger().info, echo=False)
    recorded = record(cfg, outcome)
    return {"config": cfg, "chosen": recorded["chosen"], "search_run": recorded["search_run"],
            "trials": len(outcome["frame"])}  # fmt: skip


@task(name="train", retries=RETRIES, retry_delay_seconds=5, cache_policy=NO_CACHE)
def train_task(config: TrainConfig):
    from ppg_models.training.run import run_training

    return run_training(config, resume=True)  # a run started again continues from its checkpoints


@task(name="register", retries=RETRIES, retry_delay_seconds=5, cache_policy=NO_CACHE)
def register_task(run, trainer: str) -> dict[str, Any]:
    from registry.retraining import register_once

    return register_once(run, trainer, os.environ.get(PASSWORD_ENV, ""))


def training_config(basis: dict[str, Any] | None, config: RetrainConfig, dataset: str) -> TrainConfig:
    """The champion's configuration (or ``config.train``) on ``dataset``, in a run folder named by both."""
    base = basis["config"] if basis else config.train
    if base is None:
        raise ValueError("no champion and no `train` configuration: nothing to retrain")
    data = base.data.model_copy(update={"dataset": dataset, "paths": [], "val_paths": [], "test_paths": []})
    base = base.model_copy(update={"data": data, "out_dir": None, "name": None})
    digest = hashlib.sha256(json.dumps(base.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[
        :10
    ]
    out = home_dir("runs") / f"retrain-{dataset}-{digest}"
    return base.model_copy(update={"out_dir": str(out), "name": out.name})


def _flow_run_id() -> str:
    try:
        return str(get_run_context().flow_run.id)
    except Exception:
        return ""


@flow(name="retrain", validate_parameters=True)
def retrain(config: RetrainConfig | None = None, force: bool = False) -> Any:
    """Retrain when the lake moved enough since the champion (or when forced), register and gate the
    new model, and wait for a person to approve it."""
    logger = get_run_logger()
    config = config or RetrainConfig()
    run_id = _flow_run_id()
    summary: dict[str, Any] = {"flow_run": run_id}
    if config.ingest:
        from flows.ingest.flow import ingest_batches

        ingested = ingest_batches()
        summary["ingest"] = {"counts": ingested["counts"], "dataset_version": ingested["dataset_version"]}
    basis = champion_task()
    champion = basis["version"] if basis else None
    decision = decide_task(basis["dataset"] if basis else None, config, force or config.force)
    summary |= {"champion": champion, "decision": decision}
    summary["decision_run"] = record_decision_task(decision, run_id, champion)
    logger.info("decision: %s (%s)", "retrain" if decision["retrain"] else "no retrain", decision["reason"])
    if not decision["retrain"]:
        return _finish(summary, "NoRetrain", decision["reason"])
    if config.how == "search":
        searched = search_task(config.search_config, decision["dataset"])
        summary["search"] = {k: searched[k] for k in ("search_run", "trials", "chosen")}
        if searched["chosen"] is None:
            return _finish(summary, "NotApproved", "the search found no feasible configuration")
        from flows.tune.space import trial_config

        params = {
            k.removeprefix("param "): v for k, v in searched["chosen"].items() if k.startswith("param ")
        }
        tuned = searched["config"]
        train_config = training_config({"config": trial_config(tuned.base, tuned.space, params, "x")}, config,
                                       decision["dataset"])  # fmt: skip
    else:
        train_config = training_config(basis, config, decision["dataset"])
    run = train_task(train_config)
    registered = register_task(run, config.trainer)
    summary["registered"] = registered
    if registered["status"] != "challenger":
        return _finish(summary, "NotApproved", f"version {registered['version']} is {registered['status']}")
    _artifact(summary, waiting=True)
    approval = await_approval(registered["version"], config.approval_timeout_s, config.approval_poll_s)
    summary["approval"] = approval
    if approval["outcome"] != "approved":
        return _finish(summary, "NotApproved", f"version {registered['version']}: {approval['outcome']}")
    return _finish(summary, "Completed", f"version {registered['version']} approved by {approval['by']}")


def _artifact(summary: dict[str, Any], waiting: bool) -> None:
    create_markdown_artifact(
        retrain_report(summary, waiting), key="retrain-report", description="Retraining run"
    )


def _finish(summary: dict[str, Any], name: str, message: str):
    summary |= {"state": name, "message": message}
    _artifact(summary, waiting=False)
    return Completed(name=name, message=message, data=summary)
