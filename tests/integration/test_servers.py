"""The production configuration started for real on this machine: a Prefect server, an MLflow server and
the registry on PostgreSQL, a two-node Ray cluster and a Prefect process worker. The `retrain` deployment
runs on the worker with a search on the cluster; the Ray worker node and the Prefect worker are each
killed once mid-run. The run completes, or a new run resumes it, with nothing lost: every search trial
finishes, the chosen model is registered once, the approval sent through the flow's input makes it
champion, and the audit log holds the decision and the approval. CI requires it (PPG_REQUIRE_POSTGRES=1,
PPG_REQUIRE_CLUSTER=1)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml
from servers import BIN, mlflow_server, prefect_server, prefect_worker, ray_cluster, ray_status
from tune_world import small_lake, tiny_base

pytestmark = [pytest.mark.postgres, pytest.mark.cluster, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


POSTGRES_ADMIN_URL = os.environ.get("PPG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def databases(*names: str):
    import psycopg

    made = {n: f"ppg_{n}_{uuid.uuid4().hex[:10]}" for n in names}
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        for db in made.values():
            conn.execute(f'CREATE DATABASE "{db}"')
    try:
        yield {n: POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{db}" for n, db in made.items()}
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            for db in made.values():
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def _configs(tmp_path: Path) -> dict:
    search = tmp_path / "search.yaml"
    search.write_text(
        yaml.safe_dump(
            {
                "name": "nightly",
                "base": tiny_base(epochs=3),
                "space": {"groupings": [[["hr", "rr", "af"]], [["hr", "rr"], ["af"]]],
                          "widths": {"tiny": [8, 8, 16, 16]}, "balancers": {"fixed": {}}},
                "search": {"trials": 2, "concurrent": 2, "af_floor": 0.0, "max_failures": 3,
                           "warmup_epochs": 0},
            }
        )
    )  # fmt: skip
    return {
        "ingest": False,
        "how": "search",
        "search_config": str(search),
        "trainer": "tina",
        "approval_timeout_s": 900,
        "approval_poll_s": 2,
    }


def _state(client, run_id):
    return client.read_flow_run(run_id).state


def _wait(client, run_id, done, timeout: float, what: str, env: dict, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = _state(client, run_id)
        if done(state):
            return state
        time.sleep(1)
    ray = ray_status(env["RAY_ADDRESS"], env)
    raise AssertionError(
        f"{what}: still {_state(client, run_id).name} after {timeout} s\n"
        f"ray status:\n{ray.stdout[-1500:]}{ray.stderr[-1500:]}\nworker log:\n{log.read_text()[-4000:]}"
    )


@pytest.fixture
def production(tmp_path, monkeypatch):
    """Every server, a small lake, a registry with a trainer and an approver, the `retrain` deployment on
    a process work pool; yields the environment, the Ray worker node and the worker log."""
    home = tmp_path / "home"
    with contextlib.ExitStack() as stack:
        db = stack.enter_context(databases("mlflow", "prefect", "registry"))
        address, ray_env, ray_worker = stack.enter_context(ray_cluster())
        env = {
            "PPG_HOME": str(home),
            "MLFLOW_TRACKING_URI": stack.enter_context(mlflow_server(db["mlflow"], tmp_path)),
            "PPG_REGISTRY_DB": db["registry"],
            "PREFECT_API_URL": stack.enter_context(prefect_server(db["prefect"], tmp_path)),
            "RAY_ADDRESS": address,
            "PPG_RETRAIN_PASSWORD": "tina-password",
        }
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        from prefect.settings import PREFECT_API_URL, temporary_settings

        # this process's Prefect settings may still name a server an earlier test started and stopped
        stack.enter_context(temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"]}))
        home.mkdir()
        small_lake(home)
        from registry.users import add_user, authenticate

        add_user("alex", "approver", "alex-password", authenticate("root", "root-password"))
        pool = [str(BIN / "prefect"), "work-pool", "create", "ppg", "--type", "process"]
        subprocess.run(pool, env=ray_env | env, check=True, capture_output=True)
        from prefect import flow

        deployed = flow.from_source(str(REPO), "flows/retrain/flow.py:retrain")
        config = {"config": _configs(tmp_path)}
        deployed.to_deployment(name="retrain", work_pool_name="ppg", parameters=config).apply()
        yield ray_env | env, ray_worker, tmp_path / "prefect-worker.log"


def _until_trials_run(home: Path, log: Path) -> None:
    deadline = time.monotonic() + 300
    while not list((home / "tune").glob("*/*/checkpoint_000000")):  # trials run on both nodes
        assert time.monotonic() < deadline, f"no trial checkpoint; worker log:\n{log.read_text()[-3000:]}"
        time.sleep(1)


def _stop(worker: subprocess.Popen) -> None:
    worker.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        worker.wait(30)
    if worker.poll() is None:
        worker.kill()


def test_retrain_on_real_servers_survives_losing_a_ray_node_and_the_prefect_worker(production):
    from flow_answers import answer
    from prefect import get_client
    from prefect.deployments import run_deployment

    env, ray_worker, log = production
    waiting = lambda s: s.is_paused() or s.is_final()  # noqa: E731
    worker = prefect_worker("ppg", env, log)
    try:
        runs = [run_deployment("retrain/retrain", timeout=0).id]
        _until_trials_run(Path(env["PPG_HOME"]), log)
        os.killpg(ray_worker.pid, signal.SIGKILL)  # the Ray worker node and its trial die
        worker.send_signal(signal.SIGKILL)  # the Prefect worker dies too; its flow run may go on
        worker.wait(10)
        worker = prefect_worker("ppg", env, log)  # a new worker takes over the pool
        with get_client(sync_client=True) as client:
            state = _wait(client, runs[0], waiting, 600, "first run", env, log)
            if not state.is_paused():  # it died with its worker: a new run resumes the work
                runs.append(run_deployment("retrain/retrain", timeout=0, parameters={"force": True}).id)
                state = _wait(client, runs[-1], waiting, 600, "rerun", env, log)
            assert state.is_paused(), f"{state.name}: {state.message}\n{log.read_text()[-3000:]}"
            answer(runs[-1], {"user": "alex", "password": "alex-password"})
            final = _wait(client, runs[-1], lambda s: s.is_final(), 300, "approved run", env, log)
            assert final.name == "Completed", final.message
    finally:
        _stop(worker)

    from registry import audit
    from registry.promotion import decided_aliases
    from registry.searches import list_searches
    from registry.searches import trials as search_trials
    from registry.versions import all_versions

    registered = all_versions()
    assert len(registered) == 1  # registered once, however many runs it took
    assert decided_aliases()["champion"] == str(registered[0].version)
    logged, _ = search_trials(list_searches()["search"].iloc[0])  # the newest search
    assert len(logged) == 2
    assert set(logged["status"]) == {"completed"}, logged.to_dict("records")
    actions = [(e.actor, e.action) for e in audit.entries()]
    assert ("retrain-flow", "retrain-decision") in actions
    assert ("alex", "approve") in actions
