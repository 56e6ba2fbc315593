"""After the search: trials into MLflow (a parent run, a child run per trial), the Pareto front and the
chosen trial; then the chosen configuration retrained (the standard subject split, so that the
registry's own split and evaluation set apply) and, with a trainer, registered and gated like
`ppg train --user`."""

from __future__ import annotations

from typing import Any

import pandas as pd

from flows.tune.config import TuneConfig
from flows.tune.space import trial_config
from ppg_models.home import home_dir
from registry import searches
from registry.plots import pareto_plot


def record(config: TuneConfig, outcome: dict[str, Any]) -> dict[str, Any]:
    """Log the search to MLflow and choose; returns the parent run, the front and the chosen trial."""
    plan, frame = outcome["plan"], outcome["frame"]
    objectives = plan["objectives"]
    constraint = f"val.af.auroc >= {plan['af_floor']:.4f}"
    parent = searches.start_search(
        config.name,
        objectives,
        constraint,
        {"mode": config.search.mode, "trials": config.search.trials, "dataset": plan["dataset"]},
    )
    ids = {}
    for row in frame.to_dict("records"):
        params = {k.removeprefix("param "): v for k, v in row.items() if k.startswith("param ")}
        ids[row["trial"]] = searches.log_trial(
            parent, params, outcome["histories"].get(row["trial"], []), row["status"], row["feasible"]
        )
    chosen = searches.choose_trial(frame, objectives)
    front = pd.Series(searches.pareto(frame, objectives), index=frame.index)
    png = pareto_plot(frame, objectives[0], objectives[-1], front, chosen) if len(frame) else None
    searches.log_front(parent, frame, objectives, png)
    if chosen is None:
        searches.choose(parent, "", "no feasible trial: nothing chosen")
        return {"search_run": parent, "chosen": None, "front": frame[front]}
    searches.choose(parent, ids[frame.loc[chosen, "trial"]], searches.CHOICE_RULE)
    return {"search_run": parent, "chosen": frame.loc[chosen].to_dict(), "front": frame[front]}


def retrain_and_register(config: TuneConfig, chosen: dict[str, Any], trainer, on_progress=None) -> dict:
    """Train the chosen configuration as a normal run; register and gate it when a trainer is given."""
    from ppg_models.training.run import run_training
    from registry.registration import register_run
    from registry.run_logging import log_run

    params = {k.removeprefix("param "): v for k, v in chosen.items() if k.startswith("param ")}
    out = home_dir("runs", f"tune-{config.name}")
    train_config = trial_config(config.base, config.space, params, str(out))
    run = run_training(train_config, on_progress=on_progress, resume=False)
    if trainer is None:
        return {"run_dir": str(run.out_dir), "mlflow_run_id": log_run(run, run.config, "unregistered:tune")}
    result = register_run(run, run.config, trainer)
    return {
        "run_dir": str(run.out_dir),
        "version": result.version,
        "status": result.status,
        "gate": result.verdict.to_dict(),
        "summary": result.summary_lines(),
    }
