"""Fixed weights: the plain weighted sum every multi-task paper compares against (equal by default)."""

from __future__ import annotations

from collections.abc import Sequence

from ppg_models.balancers.base import BALANCERS, Balancer, Step, weighted_backward


@BALANCERS.register("fixed")
class FixedWeights(Balancer):
    """Weighted sum of the task losses with fixed weights (equal by default): linear scalarisation."""

    paper = "Weighted sum of task losses (linear scalarisation baseline)"
    backward_passes = "1"

    def __init__(self, tasks: Sequence[str], weights: dict[str, float] | None = None) -> None:
        super().__init__(tasks)
        weights = weights or {}
        unknown = set(weights) - set(tasks)
        if unknown:
            raise ValueError(f"fixed weights for unknown tasks {sorted(unknown)}")
        self.weights = {t: float(weights.get(t, 1.0)) for t in tasks}

    def backward(self, step: Step) -> dict[str, float]:
        used = {t: self.weights[t] for t in step.losses}
        weighted_backward(step.losses, used)
        return self.all_weights(used)
