"""Ray Tune's Optuna searcher, made to respect the AF constraint and trial failures.

Ray's ``OptunaSearch`` tells Optuna nothing about constraints, and tells a trial that failed after
reporting some epochs as COMPLETE with its last values, so the sampler learns from a half-trained
trial as if it had finished. Here a failed trial is always FAIL, and a finished one carries its
constraint value (``floor - AF validation AUROC``, feasible when <= 0) for Optuna's constrained samplers
(NSGA-II for several objectives, TPE for one): infeasible trials steer the search away.
"""

from __future__ import annotations

import math
from typing import Any

from optuna.samplers import NSGAIISampler, TPESampler
from optuna.trial import TrialState
from ray.tune.search.optuna import OptunaSearch

AF_METRIC = "val.af.auroc"
CONSTRAINT = "af_floor"


def constraint_value(result: dict[str, Any] | None, floor: float) -> float:
    """<= 0 when the trial's AF validation AUROC meets the floor; 1 when it reported none."""
    value = (result or {}).get(AF_METRIC)
    return 1.0 if value is None or not math.isfinite(value) else floor - float(value)


def constrained_sampler(objectives: int, seed: int):
    """Optuna's constrained samplers read the constraint each trial sets (``Trial.set_constraint``)."""
    if objectives > 1:
        return NSGAIISampler(seed=seed, population_size=8)
    return TPESampler(seed=seed, n_startup_trials=4)


class ConstrainedOptunaSearch(OptunaSearch):
    def __init__(self, *args: Any, af_floor: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.af_floor = af_floor

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return super().on_trial_complete(trial_id, result, error)
        ot_trial = self._ot_trials[trial_id]
        if error:  # whatever it reported before failing, it did not finish
            self._ot_study.tell(ot_trial, None, state=TrialState.FAIL)
            self._completed_trials.add(trial_id)
            return None
        ot_trial.set_constraint(CONSTRAINT, constraint_value(result, self.af_floor))
        return super().on_trial_complete(trial_id, result, error)
