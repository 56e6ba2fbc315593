"""One training run from a config: data and splits, training, test evaluation, and the run folder.

The run folder holds ``model/`` (bundle: spec, weights, SHA-256), ``config.yaml``, ``report.json``,
``history.json``, ``affinity.json`` (when measured), ``head_tuning.json`` (when heads were fine-tuned)
and ``checkpoints/`` (resume).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import yaml

from ppg_models.data.exports import augment
from ppg_models.evaluation.report import EvaluationReport, evaluate
from ppg_models.home import home_path
from ppg_models.lake.dataset import load_version, version_table
from ppg_models.lake.store import Lake
from ppg_models.training.checkpoint import bundle_digest, save_bundle
from ppg_models.training.config import TrainConfig
from ppg_models.training.data import (
    WindowSet,
    check_disjoint,
    load_table,
    stratified_split,
    windows_from_table,
)
from ppg_models.training.trainer import Progress, TrainResult, train


@dataclass
class RunResult:
    out_dir: Path
    report: EvaluationReport
    training: TrainResult
    weights_sha256: str
    bundle_sha256: str  # every file of model/ (spec and weights)
    splits: dict[str, int]
    config: TrainConfig  # as run: a lake dataset pinned to its concrete version
    dataset_version: str | None = None  # the lake version trained on (None: files named directly)


def pin_dataset(config: TrainConfig) -> TrainConfig:
    """``config`` with data.dataset resolved to a concrete version ("latest" becomes ds-...)."""
    if config.data.dataset is None or config.data.dataset.startswith("ds-"):
        return config
    made = load_version(Lake(), config.data.dataset)
    return config.model_copy(update={"data": config.data.model_copy(update={"dataset": made.version})})


def _main_table(config: TrainConfig) -> pa.Table:
    if config.data.dataset is not None:
        return version_table(Lake(), config.data.dataset)[1]
    return load_table(config.data.paths)


def split_tables(config: TrainConfig) -> dict[str, pa.Table]:
    """train/val/test batch tables: explicit files when given (checked for shared subjects), else by
    subject. Nothing is prepared for the model here: the registry pins test ids from this alone."""
    data = config.data
    main = _main_table(config)
    if data.val_paths and data.test_paths:
        parts = {"train": main, "val": load_table(data.val_paths), "test": load_table(data.test_paths)}
    elif data.val_paths or data.test_paths:
        raise ValueError(
            "data: give both val_paths and test_paths, or neither (then the split is by subject)"
        )
    else:
        idx = stratified_split(main, data.fractions, config.seed)
        parts = {name: main.take(pa.array(i)) for name, i in idx.items()}
    check_disjoint({name: t.column("subject_id").to_pylist() for name, t in parts.items()})
    empty = [name for name, t in parts.items() if t.num_rows == 0]
    if empty:
        raise ValueError(f"split parts {empty} are empty: add subjects or change data.fractions")
    return parts


def prepare_splits(config: TrainConfig) -> dict[str, WindowSet]:
    """train/val/test WindowSets (``split_tables``). Only the training part is augmented: a share of its
    windows replaced by device-export versions (data.augment); validation and test are as recorded."""
    return {
        name: windows_from_table(augment(t, config.data.augment, config.seed) if name == "train" else t)
        for name, t in split_tables(config).items()
    }


def default_run_dir(config: TrainConfig) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return home_path("runs") / (config.name or f"{config.model.backbone}-{config.balancer.name}-{stamp}")


def evaluate_model(
    result: TrainResult, test: WindowSet, name: str, resamples: int, seed: int
) -> EvaluationReport:
    preds = result.model.predict(test.inputs())
    return evaluate(preds, test.labels, test.meta, model=name, resamples=resamples, seed=seed)


def run_training(
    config: TrainConfig,
    on_progress: Progress | None = None,
    resume: bool = True,
    splits: dict[str, WindowSet] | None = None,
) -> RunResult:
    config = pin_dataset(config)
    parts = splits or prepare_splits(config)
    out = Path(config.out_dir) if config.out_dir else default_run_dir(config)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    result = train(config, parts["train"], parts["val"], out / "checkpoints", on_progress, resume)
    report = evaluate_model(result, parts["test"], out.name, config.bootstrap, config.seed)
    report.to_json(out / "report.json")
    digest = save_bundle(result.model, out / "model", {"run": out.name, "best_epoch": result.best_epoch})
    (out / "history.json").write_text(json.dumps(result.history, indent=1))
    if result.affinity is not None:
        matrix = np.where(np.isnan(result.affinity), None, result.affinity).tolist()
        (out / "affinity.json").write_text(
            json.dumps({"tasks": result.model.tasks, "matrix": matrix}, indent=1)
        )
    if result.head_tuning is not None:
        (out / "head_tuning.json").write_text(json.dumps(result.head_tuning, indent=1))
    sizes = {k: len(v) for k, v in parts.items()}
    bundle = bundle_digest(out / "model")
    return RunResult(out, report, result, digest, bundle, sizes, config, config.data.dataset)
