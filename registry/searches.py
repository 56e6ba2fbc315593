"""Hyper-parameter searches in MLflow: one parent run per search, one child run per trial.

The contract the search (``flows/tune``) writes and the dashboard reads:

- parent: tag ``ppg.search=parent``, ``ppg.search.name``, ``ppg.search.objectives`` (comma-separated
  metric names ``val.<task>.<metric>``, each minimised or maximised as the task catalogue says),
  ``ppg.search.constraint`` (in words), ``ppg.search.chosen_trial`` (a child run id) and
  ``ppg.search.rule`` (how it was chosen);
- trial: tag ``ppg.search=trial`` and ``mlflow.parentRunId``, ``ppg.trial.status`` (completed, errored,
  stopped), ``ppg.trial.feasible`` (``true`` only when the AF constraint held); params (grouping, balancer
  and its parameters, lr, width); metrics ``val.<task>.<metric>`` per epoch.

The Pareto front is computed here from the trials' last values, over feasible completed trials only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ppg_models.tasks import get_task
from registry.tracking import client, experiment_id

PARENT, TRIAL = "parent", "trial"


def start_search(name: str, objectives: list[str], constraint: str, params: dict[str, Any]) -> str:
    """Open a search's parent run; returns its run id."""
    c = client()
    tags = {
        "ppg.search": PARENT,
        "ppg.search.name": name,
        "ppg.search.objectives": ",".join(objectives),
        "ppg.search.constraint": constraint,
    }
    run = c.create_run(experiment_id(c), run_name=f"search-{name}", tags=tags)
    for key, value in params.items():
        c.log_param(run.info.run_id, key, str(value))
    return run.info.run_id


def log_trial(
    search_id: str, params: dict[str, Any], epochs: list[dict[str, float]], status: str, feasible: bool
) -> str:
    """One trial as a child run: its parameters and per-epoch validation metrics; returns its run id."""
    c = client()
    tags = {
        "ppg.search": TRIAL,
        "mlflow.parentRunId": search_id,
        "ppg.trial.status": status,
        "ppg.trial.feasible": "true" if feasible else "false",
    }
    run = c.create_run(c.get_run(search_id).info.experiment_id, tags=tags)
    for key, value in params.items():
        c.log_param(run.info.run_id, key, str(value))
    for step, values in enumerate(epochs):
        for key, value in values.items():
            c.log_metric(run.info.run_id, key, float(value), step=step)
    c.set_terminated(run.info.run_id, "FINISHED" if status == "completed" else "FAILED")
    return run.info.run_id


def choose(search_id: str, trial_id: str, rule: str) -> None:
    c = client()
    c.set_tag(search_id, "ppg.search.chosen_trial", trial_id)
    c.set_tag(search_id, "ppg.search.rule", rule)
    c.set_terminated(search_id, "FINISHED")


def list_searches() -> pd.DataFrame:
    """Every search, newest first: name, start, number of trials, feasible trials, chosen trial."""
    c = client()
    experiments = [e.experiment_id for e in c.search_experiments()]
    parents = c.search_runs(experiments, "tags.`ppg.search` = 'parent'", max_results=1000)
    children = c.search_runs(experiments, "tags.`ppg.search` = 'trial'", max_results=50_000)
    rows = []
    for p in parents:
        mine = [t for t in children if t.data.tags.get("mlflow.parentRunId") == p.info.run_id]
        rows.append(
            {
                "search": p.info.run_id,
                "name": p.data.tags.get("ppg.search.name", ""),
                "started": pd.Timestamp(p.info.start_time, unit="ms").strftime("%Y-%m-%d %H:%M UTC"),
                "trials": len(mine),
                "feasible": sum(t.data.tags.get("ppg.trial.feasible") == "true" for t in mine),
                "objectives": p.data.tags.get("ppg.search.objectives", ""),
                "constraint": p.data.tags.get("ppg.search.constraint", ""),
                "chosen": p.data.tags.get("ppg.search.chosen_trial", ""),
                "rule": p.data.tags.get("ppg.search.rule", ""),
            }
        )
    columns = [
        "search",
        "name",
        "started",
        "trials",
        "feasible",
        "objectives",
        "constraint",
        "chosen",
        "rule",
    ]
    return pd.DataFrame(rows, columns=columns).sort_values("started", ascending=False, ignore_index=True)


def _errors(frame: pd.DataFrame, objectives: list[str]) -> np.ndarray:
    """Objective values turned into errors (lower is better) for the Pareto comparison."""
    cols = []
    for objective in objectives:
        task = objective.split(".")[-2]  # "val.<task>.<metric>"
        sign = -1.0 if get_task(task).higher_is_better else 1.0
        cols.append(sign * pd.to_numeric(frame[objective], errors="coerce").to_numpy(float))
    return np.column_stack(cols) if cols else np.zeros((len(frame), 0))


def pareto(frame: pd.DataFrame, objectives: list[str]) -> np.ndarray:
    """True for feasible completed trials no other such trial beats on every objective."""
    eligible = np.array(frame["feasible"] & (frame["status"] == "completed"), dtype=bool)
    errors = _errors(frame, objectives)
    eligible &= np.isfinite(errors).all(axis=1)
    front = np.zeros(len(frame), bool)
    for i in np.flatnonzero(eligible):
        others = errors[eligible]
        dominated = ((others <= errors[i]).all(axis=1) & (others < errors[i]).any(axis=1)).any()
        front[i] = not dominated
    return front


CHOICE_RULE = (
    "among feasible completed trials on the Pareto front, the one whose errors are closest to the best"
    " feasible error of each objective on average (mean over objectives of error / best error; AUROC"
    " as 1 - AUROC)"
)


def choose_trial(frame: pd.DataFrame, objectives: list[str]) -> Any:
    """Index label of the trial ``CHOICE_RULE`` picks; None when no trial is feasible. An infeasible trial
    (AF below its floor) is never chosen, however good its other metrics."""
    front = pareto(frame, objectives)
    if not front.any():
        return None
    errors = _errors(frame, objectives)
    for j, objective in enumerate(objectives):  # AUROC-type: 1 - value, so every column is an error
        if get_task(objective.split(".")[-2]).higher_is_better:
            errors[:, j] = 1.0 + errors[:, j]
    best = np.nanmin(np.where(front[:, None], errors, np.nan), axis=0)
    regret = np.mean(errors / np.maximum(best, 1e-12), axis=1)
    regret[~front] = np.inf
    return frame.index[int(np.argmin(regret))]


def log_front(search_id: str, frame: pd.DataFrame, objectives: list[str], png: bytes | None) -> None:
    """The parent run's evidence: every trial with its Pareto membership (CSV and Markdown) and a plot."""
    import tempfile
    from pathlib import Path

    c = client()
    table = frame.assign(pareto=pareto(frame, objectives))
    c.log_text(search_id, table.to_csv(index=False), "search/trials.csv")
    front = table[table["pareto"]].drop(columns="pareto")
    rows = [list(front.columns), ["---"] * len(front.columns), *front.astype(str).values.tolist()]
    c.log_text(search_id, "\n".join("| " + " | ".join(map(str, r)) + " |" for r in rows), "search/pareto.md")
    if png is not None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "pareto.png"
            path.write_bytes(png)
            c.log_artifact(search_id, str(path), "search")


def trials(search_id: str) -> tuple[pd.DataFrame, list[str]]:
    """A search's trials (params, last value of every objective, status, feasibility, Pareto membership)
    and its objectives."""
    c = client()
    parent = c.get_run(search_id)
    objectives = [o for o in parent.data.tags.get("ppg.search.objectives", "").split(",") if o]
    found = c.search_runs(
        [parent.info.experiment_id],
        f"tags.`mlflow.parentRunId` = '{search_id}' and tags.`ppg.search` = 'trial'",
        max_results=50_000,
    )
    rows = []
    for t in found:
        row = {
            "trial": t.info.run_id,
            "status": t.data.tags.get("ppg.trial.status", ""),
            "feasible": t.data.tags.get("ppg.trial.feasible") == "true",
            "chosen": t.info.run_id == parent.data.tags.get("ppg.search.chosen_trial"),
        }
        row |= {f"param {k}": v for k, v in sorted(t.data.params.items())}
        row |= {k: t.data.metrics.get(k, np.nan) for k in objectives}
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame, objectives
    frame["pareto"] = pareto(frame, objectives)
    return frame, objectives
