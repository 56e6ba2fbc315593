"""A batch's inputs and targets and the validation loss per task: what training, selection and head tuning
share."""

from __future__ import annotations

import numpy as np
import torch

from ppg_models.models.multitask import MultiTaskModel
from ppg_models.models.spec import ModelSpec
from ppg_models.tasks import unsupported
from ppg_models.training.channel_drop import drop_channels
from ppg_models.training.data import WindowSet
from ppg_models.training.losses import task_losses


def targets_for(
    ws: WindowSet, idx: np.ndarray, spec: ModelSpec, device: torch.device
) -> dict[str, torch.Tensor]:
    """Standardised regression labels and 0/1 AF labels for windows ``idx`` (NaN = unlabeled)."""
    out = {}
    for task in spec.tasks:
        mean, std = spec.scaling(task)
        out[task] = torch.as_tensor((ws.labels[task][idx] - mean) / std, dtype=torch.float32, device=device)
    return out


def training_batch(
    ws: WindowSet,
    idx: np.ndarray,
    spec: ModelSpec,
    device: torch.device,
    channel_drop: float,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Inputs and targets of training windows ``idx``, a ``channel_drop`` share of them reduced to one
    channel for this step (``training.channel_drop``; a label the reduced window cannot support is NaN)."""
    x = ws.x[idx]
    targets = targets_for(ws, idx, spec, device)
    if channel_drop > 0:
        x, present, level, rows = drop_channels(x, ws.present[idx], ws.level[idx], channel_drop, rng)
        if rows.size:
            for task, lost in unsupported(targets, present, level).items():
                targets[task][torch.from_numpy(lost).to(device)] = float("nan")
    return torch.from_numpy(x).to(device), targets


@torch.no_grad()
def validation_losses(
    model: MultiTaskModel, ws: WindowSet, device: torch.device, batch: int = 256
) -> dict[str, float]:
    """Mean validation loss per task over its labeled windows (the model's train/eval mode is kept)."""
    was_training = model.training
    model.eval()
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for start in range(0, len(ws), batch):
        idx = np.arange(start, min(start + batch, len(ws)))
        out = model(torch.from_numpy(ws.x[idx]).to(device))
        targets = targets_for(ws, idx, model.spec, device)
        for task, loss in task_losses(out, targets).items():
            n = int((~torch.isnan(targets[task])).sum())
            sums[task] = sums.get(task, 0.0) + float(loss) * n
            counts[task] = counts.get(task, 0) + n
    model.train(was_training)
    return {t: sums[t] / counts[t] for t in sums}
