"""CAGrad: Liu et al., "Conflict-averse gradient descent for multi-task learning", NeurIPS 2021.

The update d maximises the worst task's improvement within a ball of radius c |g0| around the average
gradient g0: d = g0 + sqrt(phi) g_w / |g_w|, with w on the simplex minimising g_w . g0 + sqrt(phi) |g_w|.
The small dual problem is solved on the (tasks x tasks) Gram matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import numpy as np
import torch
from pydantic import Field
from scipy.optimize import minimize

from ppg_models.balancers.base import (
    BALANCERS,
    Balancer,
    Step,
    backward_heads_then_set_shared,
    task_gradients,
)


def cagrad_direction(grads: torch.Tensor, c: float) -> tuple[torch.Tensor, np.ndarray]:
    """(tasks, params) -> (update direction, per-task coefficients that produce it)."""
    n = grads.shape[0]
    gram = (grads @ grads.T).double().cpu().numpy()
    g0_g = gram.mean(axis=1)  # g_i . g0
    g0_norm = np.sqrt(max(gram.mean(), 1e-20))
    sqrt_phi = c * g0_norm

    def objective(w: np.ndarray) -> float:
        return float(w @ g0_g + sqrt_phi * np.sqrt(max(w @ gram @ w, 1e-20)))

    start = np.full(n, 1.0 / n)
    res = minimize(
        objective, start, bounds=[(0, 1)] * n, constraints={"type": "eq", "fun": lambda w: w.sum() - 1}
    )
    w = res.x if res.success else start
    gw_norm = np.sqrt(max(w @ gram @ w, 1e-20))
    coeffs = (np.full(n, 1.0 / n) + sqrt_phi / gw_norm * w) / (1 + c**2)
    return torch.from_numpy(coeffs).to(grads) @ grads, coeffs


@BALANCERS.register("cagrad")
class CAGrad(Balancer):
    """Liu et al., NeurIPS 2021: conflict-averse update near the average gradient."""

    paper = "Liu et al., NeurIPS 2021"
    backward_passes = "T + 1"

    def __init__(self, tasks: Sequence[str], c: Annotated[float, Field(ge=0, lt=1)] = 0.4) -> None:
        super().__init__(tasks)
        self.c = c

    def backward(self, step: Step) -> dict[str, float]:
        tasks = list(step.losses)
        grads = task_gradients(step.losses, step.shared)
        direction, coeffs = cagrad_direction(grads, self.c)
        used = {t: float(coeffs[i]) * len(tasks) for i, t in enumerate(tasks)}  # mean weighting -> 1
        backward_heads_then_set_shared(step, dict.fromkeys(tasks, 1.0), direction * len(tasks))
        return self.all_weights(used)
