"""PCGrad: Yu et al., "Gradient surgery for multi-task learning", NeurIPS 2020. Where two tasks'
gradients on the shared parameters conflict (negative inner product), each is projected onto the
normal plane of the other, in random order; the projected gradients are summed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ppg_models.balancers.base import (
    BALANCERS,
    Balancer,
    Step,
    backward_heads_then_set_shared,
    task_gradients,
)


def project_conflicts(grads: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """(tasks, params) -> the sum of conflict-free projected gradients (params,)."""
    projected = grads.clone()
    n = grads.shape[0]
    for i in range(n):
        for j in torch.randperm(n, generator=generator).tolist():
            if i == j:
                continue
            dot = projected[i] @ grads[j]
            if dot < 0:
                projected[i] -= dot / (grads[j] @ grads[j]).clamp_min(1e-20) * grads[j]
    return projected.sum(dim=0)


@BALANCERS.register("pcgrad")
class PCGrad(Balancer):
    """Yu et al., NeurIPS 2020: project away conflicting components of the task gradients."""

    paper = "Yu et al., NeurIPS 2020"
    backward_passes = "T + 1"

    def __init__(self, tasks: Sequence[str], seed: int = 0) -> None:
        super().__init__(tasks)
        self.generator = torch.Generator().manual_seed(seed)

    def backward(self, step: Step) -> dict[str, float]:
        grads = task_gradients(step.losses, step.shared)
        used = dict.fromkeys(step.losses, 1.0)  # surgery, not weighting: each task's loss counts once
        backward_heads_then_set_shared(step, used, project_conflicts(grads, self.generator))
        return self.all_weights(used)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
