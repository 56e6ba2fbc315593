"""Each head fine-tuned on the frozen features of its group's best epoch, with its own early stopping.

Per-group selection keeps every backbone and its heads from the group's best epoch; a head that was
still improving then, or that shared its group's compromise, can do better on the features as they are.
With the backbones frozen, a head's loss depends only on its own parameters, so one backward pass of the
summed head losses gives each head exactly its own gradient, and one Adam over all head parameters is
one Adam per head. Each head is judged every epoch on its own tasks' validation loss (the state it came
with is the one to beat), keeps its best state and stops after ``patience`` epochs without improving.
The model runs in eval mode throughout: the frozen features (batch-norm statistics, no dropout) are
exactly the selected ones, and a head never changes what another head or a backbone computes.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from ppg_models.models.multitask import MultiTaskModel
from ppg_models.training.batches import training_batch, validation_losses
from ppg_models.training.config import HeadTuningConfig
from ppg_models.training.data import WindowSet, epoch_order
from ppg_models.training.losses import task_losses


def _head_losses(val: dict[str, float], heads: dict[str, list[str]]) -> dict[str, float]:
    return {key: sum(val[t] for t in tasks if t in val) for key, tasks in heads.items()}


def tune_heads(
    model: MultiTaskModel,
    train_set: WindowSet,
    val_set: WindowSet,
    config: HeadTuningConfig,
    batch_size: int,
    windows: int | None,
    balance_sources: bool,
    channel_drop: float,
    seed: int,
    device: torch.device,
) -> dict[str, Any]:
    """Fine-tune every head of ``model`` in place; returns per head its validation loss before and after
    and the epoch it was kept from (0: the state it came with)."""
    heads = model.head_tasks()
    rng = np.random.default_rng(seed + 7919)
    params = {k: list(model.heads[k].parameters()) for k in heads}
    flags = [(p, p.requires_grad) for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    optimizer = torch.optim.Adam(
        [{"params": ps, "lr": config.lr, "weight_decay": 0.0} for ps in params.values()]
    )
    before = _head_losses(validation_losses(model, val_set, device), heads)
    best = dict(before)
    best_state = {k: copy.deepcopy(model.heads[k].state_dict()) for k in heads}
    best_epoch = dict.fromkeys(heads, 0)
    stale = dict.fromkeys(heads, 0)
    active = {k for k in heads if params[k]}
    epoch = 0
    try:
        model.eval()
        while active and epoch < config.epochs:
            epoch += 1
            for k in heads:
                for p in params[k]:
                    p.requires_grad_(k in active)
            order = epoch_order(train_set.meta, rng, balance_sources, windows)
            for start in range(0, len(order) - batch_size + 1, batch_size):
                idx = order[start : start + batch_size]
                x, targets = training_batch(train_set, idx, model.spec, device, channel_drop, rng)
                losses = task_losses(model(x), targets)
                wanted = [loss for t, loss in losses.items() if any(t in heads[k] for k in active)]
                if not wanted:
                    continue
                optimizer.zero_grad(set_to_none=True)
                torch.stack(wanted).sum().backward()
                optimizer.step()
            now = _head_losses(validation_losses(model, val_set, device), heads)
            for k in list(active):
                if now[k] < best[k] - 1e-6:
                    best[k], best_epoch[k], stale[k] = now[k], epoch, 0
                    best_state[k] = copy.deepcopy(model.heads[k].state_dict())
                else:
                    stale[k] += 1
                    if stale[k] >= config.patience:
                        active.discard(k)
    finally:
        for k in heads:
            model.heads[k].load_state_dict(best_state[k])
        for p, flag in flags:
            p.requires_grad_(flag)
    return {
        k: {"tasks": heads[k], "val_before": before[k], "val_after": best[k], "kept_epoch": best_epoch[k]}
        for k in heads
    } | {"epochs_run": epoch}
