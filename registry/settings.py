"""Where the registry keeps its state: MLflow tracking and the registry database (users, audit, champions).

``MLFLOW_TRACKING_URI`` selects an MLflow server (default: SQLite and a local artifact store under
``PPG_HOME/mlflow``). ``PPG_REGISTRY_DB`` selects the registry database, a SQLAlchemy URL (default:
SQLite under ``PPG_HOME/registry``; PostgreSQL in production). Both are read on every call, so a test
or a deployment only sets the environment.
"""

from __future__ import annotations

import logging
import os

from ppg_models.home import home_dir, home_path

CHAMPION, CHALLENGER = "champion", "challenger"


def model_name() -> str:
    """The registered model's name (``PPG_MODEL_NAME``)."""
    return os.environ.get("PPG_MODEL_NAME", "ppg-multitask")


def experiment_name() -> str:
    """The MLflow experiment runs are logged to (``PPG_EXPERIMENT``)."""
    return os.environ.get("PPG_EXPERIMENT", "ppg-multitask")


def quiet_mlflow() -> None:
    """MLflow's INFO lines and progress bars stay out of the command line's output, and an unreachable
    server is an error within seconds, not minutes of retries (called on use; the environment wins)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
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


def missing_registry() -> str | None:
    """Why there is no registry to read here (None: there is one, or servers are configured)."""
    if os.environ.get("PPG_REGISTRY_DB") or os.environ.get("MLFLOW_TRACKING_URI"):
        return None
    home = home_path()
    if not home.is_dir():
        return f"PPG_HOME {home} does not exist: there is no registry to read (check PPG_HOME)"
    return None


def registry_db_url() -> str:
    return os.environ.get("PPG_REGISTRY_DB") or f"sqlite:///{home_dir('registry') / 'registry.db'}"


def registry_db_url_for_humans() -> str:
    """The registry database URL for messages: any password in it hidden."""
    from sqlalchemy.engine import make_url

    return make_url(registry_db_url()).render_as_string(hide_password=True)
