"""Log a finished training run to MLflow and register it as a new version of the registered model.

What is logged: the configuration as parameters; per-epoch losses and balancer weights per task; the
evaluation report (JSON) with every metric's value and interval as metrics; the task-affinity matrix;
Bland-Altman and ROC plots; the dataset version as an MLflow dataset input; the model bundle (for the
registry's own verified loader) and a pyfunc model logged as code, with signature and input example.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from ppg_models.evaluation.report import EvaluationReport
from ppg_models.files import sha256_file
from ppg_models.lake.dataset import load_version
from ppg_models.lake.store import Lake
from ppg_models.training.config import TrainConfig
from ppg_models.training.run import RunResult
from registry import settings
from registry.plots import evidence_plots
from registry.status import Status
from registry.tracking import client, ensure_registered_model, experiment_id

PYFUNC_CODE = Path(__file__).with_name("pyfunc_model.py")
PIP_REQUIREMENTS = ["torch==2.13.0", "pandas", "pyarrow", "numpy", "scipy", "pydantic", "pyyaml"]


def _flat(prefix: str, value: Any, out: dict[str, str]) -> dict[str, str]:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = json.dumps(value) if isinstance(value, list | tuple) else str(value)
    return out


def _epoch_metrics(history: list[dict[str, Any]]) -> list[tuple[int, dict[str, float]]]:
    steps = []
    for entry in history:
        values = {}
        for key in ("train_loss", "val_loss", "weights"):
            for task, v in (entry.get(key) or {}).items():
                if v is not None and np.isfinite(v):
                    values[f"{key}.{task}"] = float(v)
        for key in ("monitor", "lr"):
            if entry.get(key) is not None:
                values[key] = float(entry[key])
        steps.append((int(entry["epoch"]), values))
    return steps


def _report_metrics(report: EvaluationReport) -> dict[str, float]:
    out = {}
    for task, result in report.tasks.items():
        for metric, iv in result.metrics.items():
            for part, v in (("", iv.value), (".low", iv.low), (".high", iv.high)):
                if v is not None and np.isfinite(v):
                    out[f"test.{task}.{metric}{part}"] = float(v)
    return out


def _input_example(run: RunResult) -> pd.DataFrame:
    """One window at the model's own rate and length: a 72 bpm pulse on a DC level, as a device sends."""
    spec = run.training.model.spec
    t = np.arange(spec.samples) / spec.fs
    pulse = (30000 - 300 * np.sin(2 * np.pi * 1.2 * t)).round().tolist()
    window_id = str(run.report.predictions["window_id"][0])
    return pd.DataFrame({"window_id": [window_id], "fs": [spec.fs], "red": [pulse], "ir": [pulse]})


def _log_dataset(config: TrainConfig) -> None:
    version = config.data.dataset
    if version is None:
        return
    lake = Lake()
    summary = pd.DataFrame(list(load_version(lake, version).batches))
    summary["dropped"] = summary["dropped"].map(len)
    source = str(lake.root / "versions" / f"{version}.json")
    with warnings.catch_warnings():
        # "source can be interpreted in multiple ways" (both are local files), and the integer-column hint
        # of the summary's schema, inferred when the input is logged: the counts are never missing
        warnings.simplefilter("ignore", UserWarning)
        digest = version.removeprefix("ds-")
        dataset = mlflow.data.from_pandas(summary, source=source, name=version, digest=digest)
        mlflow.log_input(dataset, context="training")


def log_run(run: RunResult, config: TrainConfig, trained_by: str) -> str:
    """Log ``run`` (a finished ppg_models training run) to MLflow; returns the MLflow run id."""
    c = client()
    out = run.out_dir
    tags = {
        "ppg.trained_by": trained_by,
        "ppg.weights_sha256": run.weights_sha256,
        "ppg.dataset_version": config.data.dataset or "files",
        "ppg.balancer": config.balancer.name,
        "ppg.backbone": config.model.backbone,
        "ppg.report_sha256": sha256_file(out / "report.json"),
    }
    with mlflow.start_run(experiment_id=experiment_id(c), run_name=out.name, tags=tags) as active:
        mlflow.log_params(_flat("", config.model_dump(mode="json"), {}))
        for step, values in _epoch_metrics(run.training.history):
            mlflow.log_metrics(values, step=step)
        mlflow.log_metrics(_report_metrics(run.report))
        mlflow.log_artifact(str(out / "report.json"), "evaluation")
        mlflow.log_artifact(str(out / "config.yaml"))
        if (out / "affinity.json").is_file():
            mlflow.log_artifact(str(out / "affinity.json"), "affinity")
        if (out / "head_tuning.json").is_file():
            mlflow.log_artifact(str(out / "head_tuning.json"), "training")
        with tempfile.TemporaryDirectory() as tmp:
            for name, png in evidence_plots(run.report.predictions_frame(), list(run.report.tasks)).items():
                (Path(tmp) / name).write_bytes(png)
            mlflow.log_artifacts(tmp, "plots")
        _log_dataset(config)
        mlflow.log_artifacts(str(out / "model"), "bundle")
        with warnings.catch_warnings():  # MLflow's notes on the example's integer and time columns
            warnings.filterwarnings("ignore", message=".*integer column", category=UserWarning)
            warnings.filterwarnings("ignore", message="Series.values returning an ndarray that drops")
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(PYFUNC_CODE),
                artifacts={"bundle": str(out / "model")},
                input_example=_input_example(run),
                pip_requirements=PIP_REQUIREMENTS,
            )
        mlflow.set_tags({"ppg.model_uri": info.model_uri, "ppg.model_id": info.model_id})  # MLflow 3: apart
        return active.info.run_id


def register(run_id: str, run: RunResult, trained_by: str) -> str:
    """A new version of the registered model from a logged run; returns the version number."""
    c = client()
    ensure_registered_model(c)
    tags = {
        "ppg.trained_by": trained_by,
        "ppg.weights_sha256": run.weights_sha256,
        "ppg.status": str(Status.REGISTERED),
    }
    logged = c.get_run(run_id).data.tags  # MLflow 3 logs the model apart from the run, as a logged model
    source, model_id = logged.get("ppg.model_uri", f"runs:/{run_id}/model"), logged.get("ppg.model_id")
    version = c.create_model_version(
        settings.model_name(),
        source,
        run_id=run_id,
        tags=tags,
        description=run.out_dir.name,
        model_id=model_id,
    )
    return str(version.version)
