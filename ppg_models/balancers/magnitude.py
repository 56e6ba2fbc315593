"""Weights normalised by loss magnitude: each task's loss divided by a running average of itself,
so every task contributes on the same scale whatever its units (a common heuristic; cf. the
"scale normalisation" baselines in Lin et al., 2022, "Reasonable effectiveness of random weighting")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import Field

from ppg_models.balancers.base import BALANCERS, Balancer, Step, weighted_backward


@BALANCERS.register("magnitude")
class MagnitudeNormalised(Balancer):
    """Each loss divided by its running mean, so tasks contribute on one scale (cf. Lin et al., 2022)."""

    paper = "Loss-magnitude normalisation (running mean of each task's loss)"
    backward_passes = "1"

    def __init__(self, tasks: Sequence[str], momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9) -> None:
        super().__init__(tasks)
        self.momentum = momentum
        self.running: dict[str, float] = {}

    def backward(self, step: Step) -> dict[str, float]:
        for t, loss in step.losses.items():
            value = float(loss.detach())
            prev = self.running.get(t)
            self.running[t] = value if prev is None else self.momentum * prev + (1 - self.momentum) * value
        raw = {t: 1.0 / max(self.running[t], 1e-8) for t in step.losses}
        mean = sum(raw.values()) / len(raw)
        used = {t: w / mean for t, w in raw.items()}
        weighted_backward(step.losses, used)
        return self.all_weights(used)

    def state_dict(self) -> dict[str, Any]:
        return {"running": dict(self.running)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.running = dict(state["running"])
