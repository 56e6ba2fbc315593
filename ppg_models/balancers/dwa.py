"""Dynamic Weight Average: Liu, Johns & Davison, "End-to-end multi-task learning with attention", CVPR 2019.
w_t = T exp(r_t / tau) / sum_i exp(r_i / tau), with r_t the ratio of task t's mean loss over the last two
epochs: a task whose loss stopped falling gets more weight."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import Field

from ppg_models.balancers.base import BALANCERS, Balancer, Step, weighted_backward


@BALANCERS.register("dwa")
class DynamicWeightAverage(Balancer):
    """Liu, Johns & Davison, CVPR 2019: weights from the rate at which each task's loss falls."""

    paper = "Liu et al., CVPR 2019"
    backward_passes = "1"

    def __init__(self, tasks: Sequence[str], temperature: Annotated[float, Field(gt=0)] = 2.0) -> None:
        super().__init__(tasks)
        self.temperature = temperature
        self.history: list[dict[str, float]] = []  # epoch-mean losses, most recent last
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}

    def _weights(self) -> dict[str, float]:
        if len(self.history) < 2:
            return dict.fromkeys(self.tasks, 1.0)
        last, before = self.history[-1], self.history[-2]
        ratios = {
            t: (last[t] / before[t]) if t in last and t in before and before[t] > 0 else 1.0
            for t in self.tasks
        }
        exps = {t: math.exp(r / self.temperature) for t, r in ratios.items()}
        z = sum(exps.values())
        return {t: len(self.tasks) * e / z for t, e in exps.items()}

    def backward(self, step: Step) -> dict[str, float]:
        weights = self._weights()
        used = {t: weights[t] for t in step.losses}
        for t, loss in step.losses.items():
            self._sums[t] = self._sums.get(t, 0.0) + float(loss.detach())
            self._counts[t] = self._counts.get(t, 0) + 1
        weighted_backward(step.losses, used)
        return self.all_weights(used)

    def end_epoch(self) -> None:
        self.history = [*self.history[-1:], {t: self._sums[t] / self._counts[t] for t in self._sums}]
        self._sums, self._counts = {}, {}

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = list(state["history"])
