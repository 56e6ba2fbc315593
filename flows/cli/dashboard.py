"""`ppg dashboard`: the Streamlit review dashboard on the registry and lake the environment names."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import typer

from flows.cli.output import fail


def app_path() -> Path:
    """The dashboard's entry script, found without importing it (flows never import the dashboard)."""
    spec = importlib.util.find_spec("dashboard")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the dashboard package is not installed (pip install -e .)")
    return Path(next(iter(spec.submodule_search_locations))) / "app.py"


def dashboard_cmd(
    port: int = typer.Option(8501, help="Port to serve on."),
    address: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 to share it)."),
) -> None:
    """Start the review dashboard (models, verdicts, data, tuning, approvals, audit) and wait."""
    try:
        script = app_path()
    except FileNotFoundError as exc:
        raise fail(str(exc)) from None
    command = [
        sys.executable, "-m", "streamlit", "run", str(script),
        "--server.headless", "true", "--server.port", str(port), "--server.address", address,
        "--browser.gatherUsageStats", "false", "--global.developmentMode", "false",
        "--client.toolbarMode", "viewer",
    ]  # fmt: skip
    typer.echo(f"PPG dashboard on http://{address}:{port} (PPG_HOME={os.environ.get('PPG_HOME', '.ppg')})")
    sys.stdout.flush()
    # Streamlit takes this process over: a SIGTERM or SIGINT meant for `ppg dashboard` (a supervisor
    # stopping it, Ctrl-C) reaches the server itself; as a child it outlived a terminated parent.
    os.execv(sys.executable, command)
