"""Where the registry keeps its state: MLflow tracking and the registry database (users, audit, champions).

``MLFLOW_TRACKING_URI`` selects an MLflow server (default: SQLite and a local artifact store under
``PPG_HOME/mlflow``). ``PPG_REGISTRY_DB`` selects the registry database, a SQLAlchemy URL (default:
SQLite under ``PPG_HOME/registry``; PostgreSQL in production). Both are read on every call, so a test
or a deployment only sets the environment.
"""

from __future__ import annotations

import logging
import os

from ppg_models.home import home_dir

CHAMPION, CHALLENGER = "champion", "challenger"


def model_name() -> str:
    """The registered model's name (``PPG_MODEL_NAME``)."""
    return os.environ.get("PPG_MODEL_NAME", "ppg-multitask")


def experiment_name() -> str:
    """The MLflow experiment runs are logged to (``PPG_EXPERIMENT``)."""
    return os.environ.get("PPG_EXPERIMENT", "ppg-multitask")


def quiet_mlflow() -> None:
    """MLflow's INFO lines and progress bars stay out of the command line's output (called on use)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def tracking_uri() -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{home_dir('mlflow') / 'mlflow.db'}"


def artifact_location() -> str | None:
    """Artifact root for new experiments: under PPG_HOME, unless a tracking server decides its own."""
    if tracking_uri().startswith(("http://", "https://", "databricks")):
        return None
    return (home_dir("mlflow") / "artifacts").as_uri()


def registry_db_url() -> str:
    return os.environ.get("PPG_REGISTRY_DB") or f"sqlite:///{home_dir('registry') / 'registry.db'}"
