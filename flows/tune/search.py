"""`ppg tune`: a Ray Tune search over task groupings and balancer settings, constrained by AF.

1. Split the base configuration's data once (the training path's stratified subject split) and put it
   in Ray's object store for every trial.
2. Candidate groupings: all-shared, all-singletons, and the partitions a warm-up's trusted task affinity
   ranks best (``space``).
3. Search: Optuna's NSGA-II over every task's validation error (``mode: multi``), or TPE on the mean
   relative validation loss with ASHA early stopping (``mode: single``), both constrained: a trial whose
   AF validation AUROC is below the floor is infeasible and is never chosen (``searcher``). Failed
   trials are retried (``max_failures``); the search lives on ``storage`` and resumes with
   ``Tuner.restore``, searcher state included.
4. Results: one MLflow parent run with a child run per trial, the Pareto front of feasible trials
   (table and plot) and the trial chosen by ``registry.searches.CHOICE_RULE``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flows.tune.config import TuneConfig
from flows.tune.space import SpaceDefinition, candidate_groupings, first_points, warmup_affinity
from flows.tune.trainable import run_trial
from ppg_models.home import home_dir
from ppg_models.tasks import get_task
from ppg_models.training.run import pin_dataset, prepare_splits

STATE = "ppg-search.json"
Say = Callable[[str], None]


class SearchError(RuntimeError):
    """A search that cannot start or produced nothing usable; the message says why."""


def objectives(config: TuneConfig) -> list[str]:
    return [f"val.{t}.{get_task(t).primary_metric}" for t in config.base.model.tasks]


def storage_root(config: TuneConfig) -> Path:
    return Path(config.search.storage) if config.search.storage else home_dir("tune")


def champion_floor(val) -> float:
    """The champion's AF AUROC on this search's validation windows."""
    from ppg_models.evaluation.primary import primary_metrics
    from registry.versions import VersionNotFoundError, load_model

    try:
        model, _ = load_model("champion")
    except VersionNotFoundError as exc:
        raise SearchError(f"search.af_floor is 'champion' but {exc}") from None
    value = primary_metrics({"af": model.predict(val.inputs())["af"]}, val.labels)["af"]
    if not np.isfinite(value):
        raise SearchError("search.af_floor 'champion': the validation windows hold only one AF class")
    return float(value)


def _plan(config: TuneConfig, parts, say: Say) -> dict[str, Any]:
    """What the search tries, decided once and kept beside the search so that a resume uses the same."""
    floor = config.search.af_floor
    if floor == "champion":
        floor = champion_floor(parts["val"])
        say(f"AF floor: the champion's validation AUROC, {floor:.3f}")
    affinity = None
    if config.space.groupings == "auto":
        say(f"warm-up ({config.search.warmup_epochs} epoch(s), all tasks shared) to measure task affinity")
        affinity = warmup_affinity(config, parts)
    candidates = candidate_groupings(config, affinity)
    return {
        "af_floor": float(floor),
        "objectives": objectives(config),
        "dataset": config.base.data.dataset,
        "candidates": candidates,
        "affinity": None
        if affinity is None
        else {
            "tasks": affinity["tasks"],
            "matrix": [[None if np.isnan(v) else float(v) for v in row] for row in affinity["affinity"]],
            "pair_windows": affinity["pair_windows"].tolist(),
        },
    }


def trial_base(config: TuneConfig) -> dict[str, Any]:
    """The base training configuration of every trial: with the threads of the CPUs Ray gives a trial
    (``cpus_per_trial``, at least one), not more; trials side by side would otherwise oversubscribe."""
    base = config.base.model_dump(mode="json")
    base["threads"] = min(base["threads"], max(1, int(config.search.cpus_per_trial)))
    return base


def _tuner(config: TuneConfig, plan: dict[str, Any], parts, resume: bool, callbacks: list):
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import ConcurrencyLimiter

    from flows.tune.searcher import ConstrainedOptunaSearch, constrained_sampler

    trainable = tune.with_resources(
        tune.with_parameters(
            run_trial,
            parts=parts,
            base=trial_base(config),
            space=config.space.model_dump(mode="json"),
        ),
        {"cpu": config.search.cpus_per_trial},
    )
    path = storage_root(config) / config.name
    if resume:
        return tune.Tuner.restore(str(path), trainable=trainable, resume_errored=True)
    multi = config.search.mode == "multi"
    metric = plan["objectives"] if multi else "objective"
    mode = (
        ["max" if get_task(o.split(".")[1]).higher_is_better else "min" for o in metric] if multi else "min"
    )
    first = first_points(plan["candidates"], list(config.space.balancers)) if config.search.try_first else []
    searcher = ConstrainedOptunaSearch(
        space=SpaceDefinition(config.space, [c["grouping"] for c in plan["candidates"] if c["grouping"]]),
        points_to_evaluate=first[: config.search.trials] or None,
        metric=metric,
        mode=mode,
        sampler=constrained_sampler(len(metric) if multi else 1, config.search.seed),
        af_floor=plan["af_floor"],
    )
    scheduler = None
    if not multi:
        scheduler = ASHAScheduler(
            time_attr="training_iteration", max_t=config.base.optim.epochs + 1, grace_period=1
        )
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=ConcurrencyLimiter(searcher, max_concurrent=config.search.concurrent),
            scheduler=scheduler,
            num_samples=config.search.trials,
            metric=None if multi else "objective",
            mode=None if multi else "min",
        ),
        run_config=tune.RunConfig(
            name=config.name,
            storage_path=str(storage_root(config)),
            failure_config=tune.FailureConfig(max_failures=config.search.max_failures),
            callbacks=callbacks,
            verbose=0,
        ),
    )


def connect_ray(config: TuneConfig) -> None:
    """Join the cluster RAY_ADDRESS names, else start a local Ray of ``search.num_cpus`` (default: all)."""
    import ray

    if ray.is_initialized():
        return
    address = os.environ.get("RAY_ADDRESS")
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address:
        ray.init(address=address, **kwargs)
    else:
        # a new local Ray, never one a stale /tmp/ray/ray_current_cluster names (left by a killed head)
        cpus = config.search.num_cpus or os.cpu_count() or 1
        if config.search.cpus_per_trial > cpus:  # Ray would wait for such a trial forever
            raise SearchError(
                f"search.cpus_per_trial {config.search.cpus_per_trial:g} is more than the {cpus} CPUs of the"
                " local Ray: no trial could start (lower it, or run on a cluster with RAY_ADDRESS)"
            )
        ray.init(address="local", num_cpus=cpus, **kwargs)


def run_search(config: TuneConfig, resume: bool, say: Say, echo: bool = True) -> dict[str, Any]:
    """Run (or resume) the search; returns the plan it followed, its trials as a frame and their
    per-epoch histories."""
    from flows.tune.progress import TrialLines

    config = config.model_copy(update={"base": pin_dataset(config.base)})
    path = storage_root(config) / config.name
    state = path / STATE
    if resume and not state.is_file():
        raise SearchError(f"nothing to resume: no search {config.name!r} under {storage_root(config)}")
    if not resume and state.is_file():
        raise SearchError(
            f"a search {config.name!r} already exists under {storage_root(config)}: pass --resume to continue"
            " it, or give the search another name"
        )
    if resume:
        plan = json.loads(state.read_text())
        config = config.model_copy(
            update={
                "base": config.base.model_copy(
                    update={"data": config.base.data.model_copy(update={"dataset": plan["dataset"]})}
                )
            }
        )
    say(f"splitting {config.base.data.dataset or ', '.join(config.base.data.paths)} by subject")
    parts = prepare_splits(config.base)
    if not resume:
        plan = _plan(config, parts, say)
        path.mkdir(parents=True, exist_ok=True)
        state.write_text(json.dumps(plan, indent=1))
    for c in plan["candidates"]:
        score = f" (score {c['score']})" if c["score"] is not None else ""
        say(f"grouping {c['grouping'] or '':32} {c['origin']}{score}")
    connect_ray(config)
    tuner = _tuner(config, plan, parts, resume, [TrialLines(plan["af_floor"], echo)])
    with contextlib.redirect_stdout(sys.stderr):  # Ray's own banners stay off stdout (--json)
        grid = tuner.fit()
    return {"plan": plan, "frame": trial_frame(grid, plan), "histories": histories(grid)}


def _trial_id(result) -> str:
    return (result.metrics or {}).get("trial_id") or Path(result.path).name


def trial_frame(grid, plan: dict[str, Any]) -> pd.DataFrame:
    """One row per trial: its choices, status, each objective's final value and feasibility."""
    rows = []
    for result in grid:
        metrics = result.metrics or {}
        finished = result.error is None and metrics.get("final") == 1
        af = metrics.get("val.af.auroc")
        rows.append(
            {
                "trial": _trial_id(result),
                "status": "completed" if finished else ("errored" if result.error else "stopped"),
                "feasible": bool(finished and af is not None and af >= plan["af_floor"]),
                **{f"param {k}": v for k, v in sorted(result.config.items())},
                **{o: metrics.get(o, np.nan) for o in plan["objectives"]},
            }
        )
    return pd.DataFrame(rows)


def histories(grid) -> dict[str, list[dict[str, float]]]:
    """Per trial, its per-epoch validation metrics and balancer weights (the epoch reports, not the final)."""
    out = {}
    for result in grid:
        frame = result.metrics_dataframe
        trial = _trial_id(result)
        if frame is None or frame.empty:
            out[trial] = []
            continue
        epochs = frame[frame.get("final", 0) == 0] if "final" in frame else frame
        keys = [c for c in frame.columns if c.startswith(("val.", "weight."))]
        out[trial] = [
            {k: float(v) for k, v in row.items() if pd.notna(v)} for row in epochs[keys].to_dict("records")
        ]
    return out
