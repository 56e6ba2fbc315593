"""Inter-task affinity by lookahead: Fifty et al., "Efficiently identifying task groupings for multi-task
learning" (TAG), NeurIPS 2021.

Affinity of task i onto task j at a step: Z[i, j] = 1 - L_j(theta_s after a step on L_i) / L_j(theta_s),
measured on windows labeled for both tasks, averaged over the steps where it was measured. Positive:
a step for i helps j. Pairs never labeled together stay NaN (no evidence either way).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ppg_models.models.multitask import MultiTaskModel
from ppg_models.training.losses import window_losses


def _per_window(
    model: MultiTaskModel, x: torch.Tensor, targets: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Loss per window for every task, NaN where the window is not labeled."""
    out = model(x)
    result = {}
    for task, pred in out.items():
        full = torch.full_like(pred, float("nan"))
        labeled = ~torch.isnan(targets[task])
        losses = window_losses(task, pred, targets[task])
        if losses is not None:
            full[labeled] = losses
        result[task] = full
    return result


class AffinityTracker:
    def __init__(self, tasks: Sequence[str]) -> None:
        self.tasks = list(tasks)
        n = len(self.tasks)
        self.sums = np.zeros((n, n))
        self.counts = np.zeros((n, n), dtype=int)

    def measure(
        self, model: MultiTaskModel, x: torch.Tensor, targets: dict[str, torch.Tensor], lr: float
    ) -> None:
        """One lookahead measurement on a batch; the model is left exactly as it was."""
        was_training = model.training
        model.eval()  # no batch-norm statistics updates, no dropout: a clean lookahead
        shared = model.shared_parameters()
        try:
            with torch.no_grad():
                before = _per_window(model, x, targets)
            for i, task_i in enumerate(self.tasks):
                labeled = ~torch.isnan(before[task_i])
                if not bool(labeled.any()):
                    continue
                loss_i = _per_window(model, x, targets)[task_i][labeled].mean()
                grads = torch.autograd.grad(loss_i, shared, allow_unused=True)
                saved = [p.detach().clone() for p in shared]
                with torch.no_grad():
                    for p, g in zip(shared, grads, strict=True):
                        if g is not None:
                            p.sub_(lr * g)
                    after = _per_window(model, x, targets)
                    for p, original in zip(shared, saved, strict=True):
                        p.copy_(original)  # bit-exact restore
                for j, task_j in enumerate(self.tasks):
                    both = labeled & ~torch.isnan(before[task_j])
                    if j == i or not bool(both.any()):
                        continue
                    base = float(before[task_j][both].mean())
                    if base > 1e-12:
                        self.sums[i, j] += 1.0 - float(after[task_j][both].mean()) / base
                        self.counts[i, j] += 1
        finally:
            model.train(was_training)

    def matrix(self) -> np.ndarray:
        """(tasks, tasks) mean affinity of row task onto column task; NaN where never measured."""
        with np.errstate(invalid="ignore"):
            return np.where(self.counts > 0, self.sums / np.maximum(self.counts, 1), np.nan)
