"""Uncertainty weighting: Kendall, Gal & Cipolla, "Multi-task learning using uncertainty to weigh losses
for scene geometry and semantics", CVPR 2018. Each task learns a log variance s; its loss becomes
exp(-s) L / 2 + s / 2 for regression and exp(-s) L + s / 2 for classification."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ppg_models.balancers.base import BALANCERS, Balancer, Step
from ppg_models.tasks import get_task


@BALANCERS.register("uncertainty")
class UncertaintyWeighting(Balancer):
    """Kendall, Gal & Cipolla, CVPR 2018: learned homoscedastic uncertainty per task weighs its loss."""

    paper = "Kendall et al., CVPR 2018"
    backward_passes = "1"

    def __init__(self, tasks: Sequence[str]) -> None:
        super().__init__(tasks)
        self.log_vars = nn.ParameterDict({t: nn.Parameter(torch.zeros(())) for t in tasks})

    def parameters(self) -> list[nn.Parameter]:
        return list(self.log_vars.values())

    def backward(self, step: Step) -> dict[str, float]:
        total, used = 0.0, {}
        for t, loss in step.losses.items():
            s = self.log_vars[t]
            scale = 0.5 if get_task(t).kind == "regression" else 1.0
            total = total + scale * torch.exp(-s) * loss + 0.5 * s
            used[t] = float(scale * torch.exp(-s.detach()))
        total.backward()  # type: ignore[union-attr]
        return self.all_weights(used)

    def state_dict(self) -> dict[str, Any]:
        return {t: float(p.detach()) for t, p in self.log_vars.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            for t, v in state.items():
                self.log_vars[t].fill_(v)
