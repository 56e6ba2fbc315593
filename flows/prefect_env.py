"""Point Prefect at PPG_HOME before it is imported: its database and logs live with everything else.

``PREFECT_API_URL`` selects a Prefect server; without it, Prefect starts its ephemeral server on a
SQLite database in ``PPG_HOME/prefect``. Settings already in the environment always win.
"""

from __future__ import annotations

import os

from ppg_models.home import home_dir


def configure_prefect() -> None:
    """Defaults for the command line: state under PPG_HOME, warnings only, no telemetry (offline)."""
    os.environ.setdefault("PREFECT_HOME", str(home_dir("prefect")))
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "60")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
