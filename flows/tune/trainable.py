"""One trial of the search, as a Ray Tune function: train the sampled configuration epoch by epoch and
report every task's validation metric (and the balancer's weights) after each epoch, with a checkpoint
Ray keeps on the search's storage so that a trial moved to another node, or resumed after the driver was
killed, continues from its last epoch. The last report is the trial's result: each task group at its
best epoch (``ppg_models.training.selection``)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from ray import tune

from flows.tune.config import Space
from flows.tune.space import trial_config
from ppg_models.evaluation.primary import primary_metrics
from ppg_models.tasks import get_task
from ppg_models.training.config import TrainConfig
from ppg_models.training.data import WindowSet


def validation_metrics(trainer, val: WindowSet) -> dict[str, float]:
    """``val.<task>.<metric>``: each task's primary metric on the validation windows (NaN -> absent)."""
    predictions = trainer.model.predict(val.inputs())
    values = primary_metrics(predictions, val.labels)
    return {f"val.{t}.{get_task(t).primary_metric}": v for t, v in values.items() if np.isfinite(v)}


def _checkpoint_files(directory: Path) -> list[Path]:
    return [p for p in directory.glob("*.pt") if p.is_file()]


def run_trial(params: dict[str, Any], parts: dict[str, WindowSet], base: dict[str, Any], space: dict) -> None:
    from ppg_models.training.trainer import Trainer

    work = Path(tempfile.mkdtemp(prefix="ppg-trial-"))
    try:
        config = trial_config(
            TrainConfig.model_validate(base), Space.model_validate(space), params, str(work)
        )
        checkpoint = tune.get_checkpoint()
        if checkpoint is not None:  # a retried or resumed trial continues from its last epoch
            with checkpoint.as_directory() as saved:
                for f in _checkpoint_files(Path(saved)):
                    shutil.copy2(f, work / f.name)
        trainer = Trainer(config, parts["train"], parts["val"], work)
        trainer.resume()
        epochs = trainer.epochs()
        for record in epochs:
            metrics = validation_metrics(trainer, parts["val"])
            metrics |= {f"weight.{t}": w for t, w in record["weights"].items()}
            metrics |= {"objective": record["monitor"], "epoch": record["epoch"], "final": 0}
            with tempfile.TemporaryDirectory() as keep:
                for f in _checkpoint_files(work):
                    shutil.copy2(f, Path(keep) / f.name)
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(keep))
        # the generator restored every group's best epoch: the trial's result is that model
        final = validation_metrics(trainer, parts["val"])
        losses = [h["monitor"] for h in trainer.history]
        tune.report(final | {"objective": float(min(losses)) if losses else float("inf"), "final": 1})
    finally:
        shutil.rmtree(work, ignore_errors=True)
