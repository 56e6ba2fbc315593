"""A live line per finished trial on stderr: trial, grouping, balancer, each task's validation metric,
feasible or not.

The callback travels with Ray's pickled experiment state, so it holds only plain values and prints with
``print`` (flushed), never through a console object."""

from __future__ import annotations

import sys
from typing import Any

from ray import tune


def trial_line(
    trial_id: str, config: dict[str, Any], result: dict[str, Any], af_floor: float, status: str
) -> dict:
    metrics = {k.split(".")[1]: v for k, v in result.items() if k.startswith("val.")}
    af = metrics.get("af")
    return {
        "trial": trial_id,
        "status": status,
        "grouping": config.get("grouping"),
        "balancer": config.get("balancer"),
        "lr": config.get("lr"),
        "metrics": metrics,
        "feasible": status == "completed" and af is not None and af >= af_floor,
    }


def format_line(event: dict) -> str:
    metrics = " ".join(f"{t}={v:.3f}" for t, v in event["metrics"].items())
    verdict = (
        "feasible" if event["feasible"] else ("INFEASIBLE (AF)" if event["status"] == "completed" else "")
    )
    return (
        f"trial {event['trial']:>12} {event['status']:9} {event['grouping'] or '':28}"
        f" {event['balancer'] or '':8} {metrics} {verdict}"
    )


class TrialLines(tune.Callback):
    def __init__(self, af_floor: float, echo: bool) -> None:
        self.af_floor, self.echo = af_floor, echo

    def _say(self, trial, status: str) -> None:
        if self.echo:
            event = trial_line(trial.trial_id, trial.config, trial.last_result or {}, self.af_floor, status)
            print(format_line(event), file=sys.stderr, flush=True)

    def on_trial_complete(self, iteration: int, trials: list, trial, **info: Any) -> None:
        self._say(trial, "completed")

    def on_trial_error(self, iteration: int, trials: list, trial, **info: Any) -> None:
        self._say(trial, "errored")
