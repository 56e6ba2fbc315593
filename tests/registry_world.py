"""A small lake and two trained runs, shared by the registry tests (built once per session)."""

from __future__ import annotations

import itertools
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from ppg_models.training.config import TrainConfig
from ppg_models.training.run import RunResult

LENIENT = {
    "insufficient_blocks": False,
    "subgroups": [],
    "resamples": 200,
    "tasks": {
        "hr": {
            "thresholds": [{"metric": "mae", "max": 60}],
            "non_inferiority": {"margin": 5},
            "min_windows": 5,
            "min_subjects": 2,
        },
        "af": {
            "thresholds": [],
            "non_inferiority": {"margin": 0.9, "required": True},
            "min_windows": 5,
            "min_subjects": 2,
        },
    },
}


@dataclass
class World:
    home: Path
    runs: dict[str, tuple[RunResult, TrainConfig]]


def build_world(home: Path) -> World:
    """Ingest three simulated batches into a lake under ``home`` and train two one-epoch models."""
    from flows.ingest.gx_validator import GxValidator
    from ppg_models.data.batch_io import write_batch
    from ppg_models.ingest.intake import process_file
    from ppg_models.ingest.policy import IngestPolicy
    from ppg_models.lake.dataset import record_version
    from ppg_models.lake.store import Lake
    from ppg_models.sim.simulate import simulate_batch
    from ppg_models.training.run import run_training

    lake, policy = Lake.create(home / "lake"), IngestPolicy()
    validator = GxValidator(lake.root / "gx", policy)
    for i, source in enumerate(("icu", "wearable", "sleep-lab")):
        path = write_batch(simulate_batch(source, 5, i, 150), lake.incoming / f"{source}.parquet")
        process_file(path, lake, policy, validator)
    version = record_version(lake).version
    runs = {}
    for balancer, protected in (("pcgrad", "af"), ("famo", None)):
        config = TrainConfig.from_dict(
            {
                "data": {"dataset": version},
                "balancer": {"name": balancer, "protected": protected},
                "optim": {"epochs": 1, "batch_size": 32},
                "seed": 1,
                "bootstrap": 50,
                "out_dir": str(home / "runs" / balancer),
            }
        )
        runs[balancer] = (run_training(config, resume=False), config)
    return World(home, runs)


def assert_consistent():
    """The registry verifies (chain, anchors, mirrors), and each decision's aliases-before are the previous
    one's aliases-after."""
    from registry import audit
    from registry.integrity import problems
    from registry.tracking import alias_version, client

    assert problems() == []
    entries = audit.entries()
    for before, after in itertools.pairwise(entries):
        assert after.body["aliases_before"] == before.body["aliases_after"], (before.seq, after.seq)
    c = client()
    if entries:
        assert entries[-1].body["aliases_after"] == {
            "champion": alias_version(c, "champion"),
            "challenger": alias_version(c, "challenger"),
        }


def race(*calls: tuple) -> tuple[list, list]:
    """Run each ``(fn, *args)`` on its own thread at once; returns (results, exceptions)."""
    import threading

    results, errors = [], []

    def run(fn, *args):
        try:
            results.append(fn(*args))
        except Exception as exc:  # returned to the test, which checks them
            errors.append(exc)

    threads = [threading.Thread(target=run, args=call) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


# ---- fixtures shared by the registry test modules (imported there by name) ----------------------------


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    """One lake and two trained runs for the whole session (training is the slow part); every test that
    uses them gets its own MLflow store and registry database (``registry_home``), so none changes them."""
    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("registry-home")
    mp.setenv("PPG_HOME", str(home))
    try:
        return build_world(home)
    finally:
        mp.undo()


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory) -> Path:
    """An empty MLflow SQLite store, migrated once: a new store runs MLflow's migrations (about 2 s),
    a copy of this one opens in 0.1 s. It holds only MLflow's own tables and default experiment."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def registry_home(world, mlflow_template, tmp_path, monkeypatch):
    """The shared lake and runs; a fresh MLflow store and registry database for every test."""
    monkeypatch.setenv("PPG_HOME", str(world.home))
    shutil.copyfile(mlflow_template, tmp_path / "mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("PPG_REGISTRY_DB", f"sqlite:///{tmp_path / 'registry.db'}")
    return world.home


@pytest.fixture
def people(registry_home):
    """An admin (root), a trainer (tina) and two approvers (alex, ana), logged in; the LENIENT gate
    policy in force (v1, activated by root)."""
    from registry import policies
    from registry.gates.policy import GatePolicy
    from registry.users import add_user, authenticate

    add_user("root", "admin", "root-password", None)
    root = authenticate("root", "root-password")
    add_user("tina", "trainer", "tina-password", root)
    add_user("alex", "approver", "alex-password", root)
    add_user("ana", "approver", "ana-password-", root)
    policies.activate(GatePolicy.from_dict(LENIENT), root, "tests: a lenient policy for 1-epoch models")
    return {name: authenticate(name, pw) for name, pw in
            (("root", "root-password"), ("tina", "tina-password"), ("alex", "alex-password"),
             ("ana", "ana-password-"))}  # fmt: skip
