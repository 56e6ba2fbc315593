"""MLflow clients bound to the configured tracking URI, the experiment and the registered model."""

from __future__ import annotations

import contextlib

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from registry import settings

settings.quiet_mlflow()

TrackingError = MlflowException  # what callers outside registry catch, without importing mlflow


def client() -> MlflowClient:
    uri = settings.tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def experiment_id(c: MlflowClient) -> str:
    found = c.get_experiment_by_name(settings.EXPERIMENT)
    if found is not None:
        return found.experiment_id
    try:
        return c.create_experiment(settings.EXPERIMENT, artifact_location=settings.artifact_location())
    except MlflowException:  # created by a concurrent registration
        return c.get_experiment_by_name(settings.EXPERIMENT).experiment_id


def ensure_registered_model(c: MlflowClient) -> str:
    try:
        c.get_registered_model(settings.MODEL_NAME)
    except MlflowException:
        with contextlib.suppress(MlflowException):  # a concurrent registration may create it first
            c.create_registered_model(
                settings.MODEL_NAME, description="Multi-task PPG model: HR, SpO2, RR, SBP/DBP, AF"
            )
    return settings.MODEL_NAME


def alias_version(c: MlflowClient, alias: str) -> str | None:
    try:
        return str(c.get_model_version_by_alias(settings.MODEL_NAME, alias).version)
    except MlflowException:
        return None
