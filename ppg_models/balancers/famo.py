"""FAMO: Liu et al., "FAMO: Fast adaptive multitask optimization", NeurIPS 2023.

Minimises sum_t z_t log L_t with z = softmax(w) (one backward pass), scaled by c = sum_t z_t / L_t so
that the step size does not depend on the loss scale. After the model's update, the fall of every
task's log loss on the same batch, delta_t = log L_t(before) - log L_t(after), drives the logits: their
gradient is d = J_softmax(w)^T delta, and, as in the paper's code, Adam with weight decay (the
``gamma`` regulariser, ``decay`` here) takes the step, per task so that a task absent from a
step keeps its state. Measuring the fall on the same batch costs one extra forward
pass per step (``wants_losses_after_step``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any

import torch
from pydantic import Field

from ppg_models.balancers.base import BALANCERS, Balancer, Step

EPS = 1e-8


@BALANCERS.register("famo")
class FAMO(Balancer):
    """Liu et al., NeurIPS 2023: fast adaptive weights that balance the tasks' log-loss decrease."""

    paper = "Liu et al., NeurIPS 2023"
    backward_passes = "1"
    wants_losses_after_step = True

    def __init__(
        self,
        tasks: Sequence[str],
        lr: Annotated[float, Field(gt=0)] = 0.025,
        decay: Annotated[float, Field(ge=0)] = 1e-3,
    ) -> None:
        super().__init__(tasks)
        self.lr, self.decay = lr, decay
        n = len(self.tasks)
        self.logits = torch.zeros(n, dtype=torch.float64)
        # Adam's moments and step count per task, so a task absent from a step keeps all of its state
        self.moments = torch.zeros(2, n, dtype=torch.float64)
        self.steps = torch.zeros(n, dtype=torch.float64)
        self._before: dict[str, float] = {}  # this step's losses, for the update after it

    def _rows(self, tasks: Sequence[str]) -> list[int]:
        return [self.tasks.index(t) for t in tasks]

    def weights_of(self, tasks: Sequence[str]) -> torch.Tensor:
        """z: softmax of the logits of the tasks present in a step (absent tasks take no share)."""
        return torch.softmax(self.logits[self._rows(tasks)], dim=0)

    def backward(self, step: Step) -> dict[str, float]:
        tasks = list(step.losses)
        losses = [step.losses[t].clamp_min(EPS) for t in tasks]
        z = self.weights_of(tasks)
        values = torch.tensor([float(v.detach()) for v in losses], dtype=torch.float64)
        c = float((z / values).sum())
        total = sum(float(z[i]) / c * torch.log(loss) for i, loss in enumerate(losses))
        total.backward()  # type: ignore[union-attr]
        self._before = dict(zip(tasks, values.tolist(), strict=True))
        # effective weight on L_t: z_t / (c L_t); reported with mean 1
        eff = z / (c * values)
        return self.all_weights(dict(zip(tasks, (eff / eff.mean()).tolist(), strict=True)))

    def after_step(self, losses_after: dict[str, float]) -> None:
        """The paper's logit update from the same batch's losses before and after the model's step."""
        tasks = [t for t in self._before if t in losses_after]
        self._before, before = {}, self._before
        if len(tasks) < 2:
            return
        rows = self._rows(tasks)
        delta = torch.tensor(
            [math.log(before[t] + EPS) - math.log(losses_after[t] + EPS) for t in tasks], dtype=torch.float64
        )
        z = torch.softmax(self.logits[rows], dim=0)
        grad = z * (delta - (z * delta).sum())  # J_softmax^T delta
        self._adam(rows, grad)

    def _adam(self, rows: list[int], grad: torch.Tensor) -> None:
        """torch.optim.Adam's step (L2 weight decay, betas 0.9/0.999, eps 1e-8) on the given logits."""
        b1, b2 = 0.9, 0.999
        w = self.logits[rows]
        g = grad + self.decay * w
        m = self.moments[0, rows] * b1 + (1 - b1) * g
        v = self.moments[1, rows] * b2 + (1 - b2) * g * g
        t = self.steps[rows] + 1
        step = self.lr * (m / (1 - b1**t)) / ((v / (1 - b2**t)).sqrt() + 1e-8)
        self.logits[rows], self.moments[0, rows], self.moments[1, rows], self.steps[rows] = w - step, m, v, t

    def state_dict(self) -> dict[str, Any]:
        return {"logits": self.logits.clone(), "moments": self.moments.clone(), "steps": self.steps.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.logits, self.moments, self.steps = (state[k].clone() for k in ("logits", "moments", "steps"))
