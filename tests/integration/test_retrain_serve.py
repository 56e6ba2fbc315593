"""`ppg serve` runs the scheduled `retrain` deployment (its interval shortened by configuration) on a
small lake: the run ends waiting for approval, the approval sent through the flow's input makes the
version champion and is in the audit log, and SIGTERM stops the server with the command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from tune_world import small_lake, tiny_base

pytestmark = pytest.mark.slow

PPG = str(Path(sys.executable).with_name("ppg"))


def _paused(client, timeout: float):
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    paused = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = client.read_flow_runs(flow_run_filter=paused, sort=FlowRunSort.START_TIME_DESC, limit=5)
        if runs:
            return runs[0]
        time.sleep(1)
    raise AssertionError("no scheduled retrain run came to wait for an approval")


def test_a_served_schedule_retrains_and_waits_for_an_approval_given_in_the_flow(tmp_path, monkeypatch):
    env = {
        "PPG_HOME": str(tmp_path / "home"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "PPG_REGISTRY_DB": f"sqlite:///{tmp_path / 'registry.db'}",
        "PPG_RETRAIN_PASSWORD": "tina-password",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    small_lake(tmp_path / "home")
    from registry.users import add_user, authenticate

    add_user("alex", "approver", "alex-password", authenticate("root", "root-password"))
    config = tmp_path / "retrain.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "train": tiny_base(epochs=1),
                "trainer": "tina",
                "approval_timeout_s": 600,
                "approval_poll_s": 30,
                "schedules": {"ingest_every_s": 3600, "retrain_every_s": 15},  # overlaps: cancelled
            }
        )
    )
    # a fresh process as a user starts it: no Prefect setting an earlier test left in this process's
    # environment (a shared PREFECT_HOME put two servers on one SQLite database: "database is locked")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    log = tmp_path / "serve.log"  # printed when the test fails
    serve = subprocess.Popen(
        [PPG, "serve", "--config", str(config)],
        env=clean | env,
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
    )
    try:
        line = serve.stdout.readline()
        assert "serving ingest-batches and retrain on http" in line, line
        api = line.rsplit(" on ", 1)[1].strip()
        from flow_answers import answer
        from prefect import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        # this process's Prefect settings are read once: an earlier test's server would be asked, or a
        # temporary one started, if the environment alone named the served API
        with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as client:
            run = _paused(client, timeout=400)
            answer(run.id, {"user": "alex", "password": "alex-password"})
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                state = client.read_flow_run(run.id).state
                if state.is_final():
                    break
                time.sleep(1)
        assert state.name == "Completed", state.message
        from registry import audit
        from registry.promotion import decided_aliases

        champion = decided_aliases()["champion"]
        assert champion
        assert ("alex", "approve", champion) in [(e.actor, e.action, e.version) for e in audit.entries()]
        assert ("retrain-flow", "retrain-decision") in [(e.actor, e.action) for e in audit.entries()]
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- ppg serve's log (tail) ---\n{log.read_text()[-6000:]}") from None
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(60)
        except subprocess.TimeoutExpired:
            serve.kill()
            raise
    server = Path(env["PPG_HOME"]) / "prefect" / "server.json"
    assert not server.exists()  # the command's own Prefect server stopped with it
