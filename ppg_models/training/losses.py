"""Per-task losses over the windows labeled for each task (partial labels)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ppg_models.tasks import get_task


def task_losses(
    outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Mean loss of each task over its labeled windows; tasks with no labeled window are left out.

    ``targets[task]`` is (batch,) with NaN where the window is not labeled for the task; regression
    targets are standardised, binary ones 0/1.
    """
    losses = {}
    for task, out in outputs.items():
        per_window = window_losses(task, out, targets[task])
        if per_window is not None:
            losses[task] = per_window.mean()
    return losses


def window_losses(task: str, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor | None:
    """Loss of each labeled window (None when none is labeled)."""
    labeled = ~torch.isnan(target)
    if not bool(labeled.any()):
        return None
    y, p = target[labeled], out[labeled]
    if get_task(task).loss == "bce":
        return F.binary_cross_entropy_with_logits(p, y, reduction="none")
    return F.smooth_l1_loss(p, y, reduction="none")
