"""Where the registry keeps its state: MLflow tracking and the registry database (users, audit, champions).

``MLFLOW_TRACKING_URI`` selects an MLflow server (default: SQLite and a local artifact store under
``PPG_HOME/mlflow``). ``PPG_REGISTRY_DB`` selects the registry database, a SQLAlchemy URL (default:
SQLite under ``PPG_HOME/registry``; PostgreSQL in production). Both are read on every call, so a test
or a deployment only sets the environment.
"""

from __future__ import annotations

import logging
import os

from ppg_models.home import home_path

MODEL_NAME = os.environ.get("PPG_MODEL_NAME", "ppg-multitask")
EXPERIMENT = os.environ.get("PPG_EXPERIMENT", "ppg-multitask")
CHAMPION, CHALLENGER = "champion", "challenger"

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no bars in logs or JSON output


def quiet_mlflow() -> None:
    """MLflow's INFO lines (table creation, signature inference) stay out of the command line's output."""
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def tracking_uri() -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{home_path('mlflow') / 'mlflow.db'}"


def artifact_location() -> str | None:
    """Artifact root for new experiments: under PPG_HOME, unless a tracking server decides its own."""
    if tracking_uri().startswith(("http://", "https://", "databricks")):
        return None
    return (home_path("mlflow") / "artifacts").as_uri()


def registry_db_url() -> str:
    return os.environ.get("PPG_REGISTRY_DB") or f"sqlite:///{home_path('registry') / 'registry.db'}"
