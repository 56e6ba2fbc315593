"""The training loop: AdamW with warm-up and cosine decay, any registered balancer, gradient clipping and
model selection per task group (``selection``), early stopping on the validation loss, checkpoints every
epoch with resume, seeded determinism and CPU thread control.

Progress is reported through ``on_progress(event)`` so that callers choose how to show it.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ppg_models.balancers import Balancer, Step, create_balancer
from ppg_models.models.multitask import MultiTaskModel
from ppg_models.models.spec import ModelSpec
from ppg_models.training.affinity import AffinityTracker
from ppg_models.training.batches import training_batch, validation_losses
from ppg_models.training.checkpoint import atomic_save, load_state
from ppg_models.training.config import TrainConfig
from ppg_models.training.data import WindowSet, epoch_order, label_scaling
from ppg_models.training.head_tuning import tune_heads
from ppg_models.training.losses import task_losses
from ppg_models.training.selection import GroupSelection

Progress = Callable[[dict[str, Any]], None]
LAST = "last.pt"


@dataclass
class TrainResult:
    model: MultiTaskModel
    history: list[dict[str, Any]]
    best_epoch: int  # the latest of the groups' best epochs
    affinity: np.ndarray | None
    checkpoint_dir: Path
    train_seconds: float
    windows_seen: int
    resumed_from: int | None = None
    best_epochs: dict[str, int] | None = None  # per group ("hr+spo2"), the epoch its weights come from
    head_tuning: dict[str, Any] | None = None  # per head: validation loss before and after, epoch kept
    threads: int | None = None  # CPU threads it trained with (``thread_count``)

    @property
    def windows_per_second(self) -> float:
        return self.windows_seen / self.train_seconds if self.train_seconds > 0 else float("nan")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but no CUDA device is available")
    return torch.device(name)


MAX_THREADS_VARIABLE = "PPG_MAX_THREADS"


def thread_count(requested: int) -> int:
    """The CPU threads training uses: ``requested``, at most ``PPG_MAX_THREADS`` where that is set.

    Processes that share a few cores (parallel test workers, trainings side by side) set it to their
    share. On 2 cores, two PyTorch threads train 1.7x faster than one on a quiet machine but 2.1x slower
    while another process keeps one core busy (``benchmarks/results/threads_under_load.md``)."""
    raw = os.environ.get(MAX_THREADS_VARIABLE, "").strip()
    if not raw:
        return requested
    try:
        cap = int(raw)
    except ValueError:
        cap = 0
    if cap < 1:
        raise ValueError(f"{MAX_THREADS_VARIABLE}={raw!r}: not a number of threads (a whole number >= 1)")
    return min(requested, cap)


def seed_everything(seed: int, threads: int) -> None:
    torch.manual_seed(seed)
    torch.set_num_threads(thread_count(threads))
    torch.use_deterministic_algorithms(True, warn_only=True)


def build_model(config: TrainConfig, train: WindowSet) -> MultiTaskModel:
    tasks = config.model.tasks
    mean, std = label_scaling(train.labels, tasks)
    spec = ModelSpec(
        groups=config.model.resolved_groups(),
        backbone=config.model.backbone,
        backbone_params=config.model.backbone_params,
        label_mean=mean,
        label_std=std,
    )
    return MultiTaskModel(spec)


def _lr_lambda(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


@contextmanager
def frozen_batch_norm(model: torch.nn.Module) -> Iterator[None]:
    """Batch-norm layers normalise with the batch's statistics but do not update their running ones."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum in zip(norms, saved, strict=True):
            m.momentum = momentum


@torch.no_grad()
def losses_after_step(
    model: MultiTaskModel, x: torch.Tensor, targets: dict[str, torch.Tensor]
) -> dict[str, float]:
    """The batch's task losses under the updated weights, measured as the step's own were (training
    mode), without touching the running statistics: for balancers that learn from a step's effect."""
    with frozen_batch_norm(model):
        return {t: float(v) for t, v in task_losses(model(x), targets).items()}


class Trainer:
    def __init__(self, config: TrainConfig, train: WindowSet, val: WindowSet, checkpoint_dir: Path) -> None:
        self.config, self.train_set, self.val_set = config, train, val
        self.dir = checkpoint_dir
        seed_everything(config.seed, config.threads)
        self.device = resolve_device(config.device)
        self.model = build_model(config, train).to(self.device)
        self.tasks = self.model.tasks
        b = config.balancer
        self.balancer: Balancer = create_balancer(
            b.name,
            self.tasks,
            **b.params,
            **({"protected": b.protected} if b.protected else {}),
            **{f"protected_{k}": v for k, v in b.protected_params.items()},
        )
        o = config.optim
        self.optimizer = torch.optim.AdamW(
            [
                {"params": list(self.model.parameters()), "weight_decay": o.weight_decay},
                {"params": self.balancer.parameters(), "weight_decay": 0.0},
            ],
            lr=o.lr,
        )
        steps_per_epoch = max(1, (o.epoch_windows or len(train)) // o.batch_size)
        self.steps_per_epoch = steps_per_epoch
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, _lr_lambda(o.epochs * steps_per_epoch, int(o.warmup_epochs * steps_per_epoch))
        )
        self.rng = np.random.default_rng(config.seed)
        self.affinity = AffinityTracker(self.tasks) if config.affinity_every else None
        self.history: list[dict[str, Any]] = []
        self.epoch = 0
        self.selection = GroupSelection(self.model.spec.groups, o.patience)
        self.global_step, self.windows_seen, self.train_seconds = 0, 0, 0.0

    # -- checkpoints ---------------------------------------------------------------------------------
    def save(self) -> None:
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "balancer": self.balancer.state_dict(),
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "progress": {
                "epoch": self.epoch,
                "selection": self.selection.state_dict(),
                "global_step": self.global_step,
                "windows_seen": self.windows_seen,
                "train_seconds": self.train_seconds,
            },
            "history": self.history,
            "affinity": None
            if self.affinity is None
            else {"sums": self.affinity.sums.tolist(), "counts": self.affinity.counts.tolist()},
        }
        atomic_save(state, self.dir / LAST)

    def resume(self) -> int | None:
        path = self.dir / LAST
        if not path.is_file():
            return None
        state = load_state(path, self.device)
        if "selection" not in state["progress"]:  # written before per-group selection: start afresh
            return None
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.balancer.load_state_dict(state["balancer"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        p = state["progress"]
        self.epoch = p["epoch"]
        self.selection.load_state_dict(p["selection"])
        self.global_step, self.windows_seen, self.train_seconds = (
            p["global_step"],
            p["windows_seen"],
            p["train_seconds"],
        )
        self.history = state["history"]
        if self.affinity is not None and state["affinity"] is not None:
            self.affinity.sums = np.array(state["affinity"]["sums"])
            self.affinity.counts = np.array(state["affinity"]["counts"], dtype=int)
        return self.epoch

    # -- one epoch -----------------------------------------------------------------------------------
    def train_epoch(self, on_progress: Progress | None) -> dict[str, Any]:
        self.model.train()
        o = self.config.optim
        order = epoch_order(
            self.train_set.meta, self.rng, self.config.data.balance_sources, self.config.optim.epoch_windows
        )
        loss_sums: dict[str, float] = {}
        weight_sums: dict[str, float] = dict.fromkeys(self.tasks, 0.0)
        steps = 0
        started = time.perf_counter()
        for b in range(self.steps_per_epoch):
            idx = order[b * o.batch_size : (b + 1) * o.batch_size]
            x, targets = training_batch(
                self.train_set, idx, self.model.spec, self.device, self.config.data.channel_drop, self.rng
            )
            if self.affinity is not None and self.global_step % self.config.affinity_every == 0:
                self.affinity.measure(self.model, x, targets, lr=self.scheduler.get_last_lr()[0])
            outputs, features = self.model.forward_with_features(x)
            losses = task_losses(outputs, targets)
            self.global_step += 1
            if not losses:
                continue
            self.optimizer.zero_grad(set_to_none=True)
            task_params = {t: self.model.task_parameters(t) for t in losses}
            weights = self.balancer.backward(
                Step(losses, self.model.shared_parameters(), task_params, features)
            )
            for g in range(len(self.model.spec.groups)):  # one group's spike never shrinks another's step
                torch.nn.utils.clip_grad_norm_(self.model.group_parameters(g), o.grad_clip)
            self.optimizer.step()
            self.scheduler.step()
            if self.balancer.wants_losses_after_step:
                self.balancer.after_step(losses_after_step(self.model, x, targets))
            steps += 1
            self.windows_seen += len(idx)
            for t, loss in losses.items():
                loss_sums[t] = loss_sums.get(t, 0.0) + float(loss.detach())
            for t, w in weights.items():
                weight_sums[t] += w
            if on_progress:
                on_progress(
                    {"event": "step", "epoch": self.epoch, "step": b + 1, "steps": self.steps_per_epoch}
                )
        self.train_seconds += time.perf_counter() - started
        self.balancer.end_epoch()
        return {
            "train_loss": {t: v / steps for t, v in loss_sums.items()} if steps else {},
            "weights": {t: v / steps for t, v in weight_sums.items()} if steps else {},
        }

    def fit(self, on_progress: Progress | None = None) -> None:
        for _ in self.epochs(on_progress):
            pass

    def epochs(self, on_progress: Progress | None = None) -> Iterator[dict[str, Any]]:
        """Train epoch by epoch, yielding each epoch's record after its checkpoint is saved (a caller can
        look at the model in between); once exhausted, every group holds its best epoch's weights."""
        o = self.config.optim
        while self.epoch < o.epochs and not self.selection.done:
            record = self.train_epoch(on_progress)
            val = validation_losses(self.model, self.val_set, self.device)
            self.balancer.observe_validation(val)
            improved = self.selection.observe(
                self.epoch, val, self.model, self.dir, self.balancer.accepts_checkpoint
            )
            record.update(
                epoch=self.epoch,
                val_loss=val,
                monitor=self.selection.monitor(val),
                lr=self.scheduler.get_last_lr()[0],
                improved=bool(improved),
                improved_groups=improved,
            )
            self.history.append(record)
            self.epoch += 1
            self.save()
            if on_progress:
                on_progress({"event": "epoch", **record})
            yield record
        self.selection.restore_best(self.model, self.dir)

    def best_epochs(self) -> dict[str, int]:
        return {"+".join(g): e for g, e in zip(self.selection.groups, self.selection.best_epoch, strict=True)}


def train(
    config: TrainConfig,
    train_set: WindowSet,
    val_set: WindowSet,
    checkpoint_dir: Path,
    on_progress: Progress | None = None,
    resume: bool = True,
) -> TrainResult:
    """Train a model on ``train_set`` with early stopping on ``val_set``; resumes from ``checkpoint_dir``."""
    trainer = Trainer(config, train_set, val_set, checkpoint_dir)
    resumed = trainer.resume() if resume else None
    trainer.fit(on_progress)
    tuned = None
    h = config.optim.head_tuning
    if h.epochs:
        tuned = tune_heads(
            trainer.model,
            train_set,
            val_set,
            h,
            batch_size=config.optim.batch_size,
            windows=h.epoch_windows or config.optim.epoch_windows,
            balance_sources=config.data.balance_sources,
            channel_drop=config.data.channel_drop,
            seed=config.seed,
            device=trainer.device,
        )
        if on_progress:
            on_progress({"event": "head_tuning", **tuned})
    return TrainResult(
        model=trainer.model.eval(),
        history=trainer.history,
        best_epoch=max(trainer.selection.best_epoch),
        affinity=None if trainer.affinity is None else trainer.affinity.matrix(),
        checkpoint_dir=checkpoint_dir,
        train_seconds=trainer.train_seconds,
        windows_seen=trainer.windows_seen,
        resumed_from=resumed,
        best_epochs=trainer.best_epochs(),
        head_tuning=tuned,
        threads=torch.get_num_threads(),
    )
