"""MLflow clients bound to the configured tracking URI, the experiment and the registered model."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from registry import settings

TrackingError = MlflowException  # what callers outside registry catch, without importing mlflow


def client() -> MlflowClient:
    """A client for the configured URI; MLflow's fluent API (runs, artifacts) is pointed at it too."""
    settings.quiet_mlflow()
    uri = settings.tracking_uri()
    with _environment_kept("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@contextlib.contextmanager
def _environment_kept(*names: str) -> Iterator[None]:
    """MLflow copies the URI into the environment; undo it, so that the URI is read afresh on every call
    (a later PPG_HOME or MLFLOW_TRACKING_URI wins) and child processes inherit only what the user set."""
    saved = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def experiment_id(c: MlflowClient) -> str:
    found = c.get_experiment_by_name(settings.experiment_name())
    if found is not None:
        return found.experiment_id
    try:
        return c.create_experiment(settings.experiment_name(), artifact_location=settings.artifact_location())
    except MlflowException:  # created by a concurrent registration
        return c.get_experiment_by_name(settings.experiment_name()).experiment_id


def ensure_registered_model(c: MlflowClient) -> str:
    try:
        c.get_registered_model(settings.model_name())
    except MlflowException:
        with contextlib.suppress(MlflowException):  # a concurrent registration may create it first
            c.create_registered_model(
                settings.model_name(), description="Multi-task PPG model: HR, SpO2, RR, SBP/DBP, AF"
            )
    return settings.model_name()


def alias_version(c: MlflowClient, alias: str) -> str | None:
    try:
        return str(c.get_model_version_by_alias(settings.model_name(), alias).version)
    except MlflowException:
        return None
