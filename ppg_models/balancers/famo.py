"""FAMO: Liu et al., "FAMO: Fast adaptive multitask optimization", NeurIPS 2023.

Minimises sum_t z_t log L_t with z = softmax(logits) (one backward pass), and moves the logits towards
the tasks whose log loss fell least. The paper measures that fall on the same batch after the update
(one extra forward pass); here it is measured between consecutive steps of a task, which needs no extra
pass and is what the trainer can afford on CPU.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any

import torch
from pydantic import Field

from ppg_models.balancers.base import BALANCERS, Balancer, Step


@BALANCERS.register("famo")
class FAMO(Balancer):
    """Liu et al., NeurIPS 2023: fast adaptive weights that balance the tasks' log-loss decrease."""

    paper = "Liu et al., NeurIPS 2023"
    backward_passes = "1"

    def __init__(
        self,
        tasks: Sequence[str],
        lr: Annotated[float, Field(gt=0)] = 0.025,
        decay: Annotated[float, Field(ge=0)] = 1e-3,
    ) -> None:
        super().__init__(tasks)
        self.lr, self.decay = lr, decay
        self.logits = dict.fromkeys(tasks, 0.0)
        self.previous: dict[str, float] = {}

    def _update_logits(self, log_losses: dict[str, float]) -> None:
        common = [t for t in log_losses if t in self.previous]
        if len(common) < 2:
            return
        delta = {t: self.previous[t] - log_losses[t] for t in common}  # improvement of each task
        z = self._softmax(common)
        # gradient of sum_t z_t delta_t with respect to the logits: z_t (delta_t - sum_i z_i delta_i)
        mean = sum(z[t] * delta[t] for t in common)
        for t in common:
            self.logits[t] -= self.lr * (z[t] * (delta[t] - mean) + self.decay * self.logits[t])

    def _softmax(self, tasks: list[str]) -> dict[str, float]:
        m = max(self.logits[t] for t in tasks)
        exps = {t: math.exp(self.logits[t] - m) for t in tasks}
        s = sum(exps.values())
        return {t: e / s for t, e in exps.items()}

    def backward(self, step: Step) -> dict[str, float]:
        losses = {t: loss.clamp_min(1e-8) for t, loss in step.losses.items()}
        log_now = {t: math.log(float(loss.detach())) for t, loss in losses.items()}
        self._update_logits(log_now)
        self.previous.update(log_now)
        tasks = list(losses)
        z = self._softmax(tasks)
        c = sum(z[t] / float(losses[t].detach()) for t in tasks)
        total = sum(z[t] / c * torch.log(losses[t]) for t in tasks)
        total.backward()  # type: ignore[union-attr]
        # effective weight on L_t: d total / d L_t = z_t / (c L_t); scaled to mean 1
        eff = {t: z[t] / (c * float(losses[t].detach())) for t in tasks}
        mean = sum(eff.values()) / len(eff)
        return self.all_weights({t: w / mean for t, w in eff.items()})

    def state_dict(self) -> dict[str, Any]:
        return {"logits": dict(self.logits), "previous": dict(self.previous)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.logits, self.previous = dict(state["logits"]), dict(state["previous"])
