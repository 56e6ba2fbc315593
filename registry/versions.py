"""Read registered versions back: resolve a reference, load the model safely, its report and config.

Loading verifies the weights' SHA-256 against the hash recorded on the version when it was registered
(kept in the registry, apart from the artifacts), then loads tensors only (``weights_only=True``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from sqlalchemy import select

from ppg_models.evaluation.report import EvaluationReport
from ppg_models.files import sha256_file
from ppg_models.models.multitask import MultiTaskModel
from ppg_models.training.checkpoint import WEIGHTS, ModelIntegrityError, bundle_digest, load_bundle
from registry import settings
from registry.db import reading, versions
from registry.tracking import client


class VersionNotFoundError(LookupError):
    """A model reference that names no registered version."""


def resolve(ref: str) -> ModelVersion:
    """``champion``, ``challenger``, ``3`` or ``v3`` -> the model version."""
    c, name, ref = client(), settings.model_name(), str(ref)
    try:
        if ref.isdigit() or (ref[:1] == "v" and ref[1:].isdigit()):
            return c.get_model_version(name, str(int(ref.removeprefix("v"))))  # "02", "v2": version 2
        return c.get_model_version_by_alias(name, ref)
    except MlflowException:
        raise VersionNotFoundError(f"no version {ref!r} of registered model {name!r}") from None


def _download(run_id: str, path: str, into: Path) -> Path:
    return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path, dst_path=str(into)))


def _registered_hashes(version: str) -> tuple[str | None, str | None]:
    """(weights, bundle) SHA-256 as the registry database recorded them at registration."""
    with reading() as conn:
        row = conn.execute(
            select(versions.c.weights_sha256, versions.c.bundle_sha256).where(versions.c.version == version)
        ).first()
    return (row.weights_sha256, row.bundle_sha256) if row else (None, None)


def load_model(ref: str, device: str = "cpu") -> tuple[MultiTaskModel, ModelVersion]:
    """The model of a version, after checking every file of its bundle against the registered hashes."""
    mv = resolve(ref)
    weights, bundle_hash = _registered_hashes(str(mv.version))
    if not weights or not bundle_hash:
        raise ModelIntegrityError(
            f"version {mv.version} has no registered bundle hashes in the registry; refusing to load it"
        )
    with tempfile.TemporaryDirectory() as tmp:
        bundle = _download(mv.run_id, "bundle", Path(tmp))
        actual = sha256_file(bundle / WEIGHTS)
        if actual != weights:
            raise ModelIntegrityError(
                f"version {mv.version}: weights SHA-256 {actual} differs from the registered {weights}"
            )
        if bundle_digest(bundle) != bundle_hash:
            raise ModelIntegrityError(
                f"version {mv.version}: a file of its bundle (e.g. model.json: spec, label scaling) differs"
                " from what was registered"
            )
        return load_bundle(bundle, device), mv


def load_report(mv: ModelVersion) -> EvaluationReport:
    """The evaluation report logged with a version's run, checked against the run's report hash."""
    run = client().get_run(mv.run_id)
    with tempfile.TemporaryDirectory() as tmp:
        path = _download(mv.run_id, "evaluation/report.json", Path(tmp))
        expected = run.data.tags.get("ppg.report_sha256")
        if expected and sha256_file(path) != expected:
            raise ModelIntegrityError(
                f"version {mv.version}: the evaluation report was changed after logging"
            )
        return EvaluationReport.from_json(path)


def all_versions() -> list[ModelVersion]:
    """Every registered version, oldest first; an unreachable server raises (never 'no versions')."""
    found = client().search_model_versions(f"name = '{settings.model_name()}'")
    return sorted(found, key=lambda mv: int(mv.version))
