"""The search on a real two-node Ray cluster on this machine (``ray start --head`` and a worker node on
loopback, token authentication as Ray 2.60 requires), with the worker node killed mid-search: the trial
it ran fails, is retried from its last checkpoint on the surviving node, and the search finishes every
trial. CI requires it (PPG_REQUIRE_CLUSTER=1)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from servers import ray_cluster
from tune_world import small_lake, tiny_base

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

BIN = Path(sys.executable).parent


@pytest.fixture
def cluster():
    """A head node and a worker node (1 CPU each) on 127.0.0.1; yields (address, env, worker process)."""
    with ray_cluster() as running:
        yield running


@pytest.fixture
def lake_home(tmp_path, monkeypatch):
    env = {
        "PPG_HOME": str(tmp_path / "home"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "PPG_REGISTRY_DB": f"sqlite:///{tmp_path / 'registry.db'}",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    (tmp_path / "home").mkdir()
    small_lake(tmp_path / "home")
    return env


def test_a_search_on_two_nodes_survives_losing_the_worker(cluster, lake_home, tmp_path):
    address, env, worker = cluster
    shared = tmp_path / "shared-storage"  # every node sees it (one machine); a cluster mounts it
    config = tmp_path / "cluster.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "on-cluster",
                "base": tiny_base(epochs=4),
                "space": {"groupings": [[["hr", "rr", "af"]], [["hr", "rr"], ["af"]]],
                          "widths": {"tiny": [8, 8, 16, 16]}, "balancers": {"fixed": {}}},
                "search": {"trials": 4, "concurrent": 2, "af_floor": 0.0, "max_failures": 3,
                           "warmup_epochs": 0, "storage": str(shared)},
            }
        )
    )  # fmt: skip
    search = subprocess.Popen(
        [str(BIN / "ppg"), "tune", "--config", str(config), "--json"],
        env=env | lake_home | {"RAY_ADDRESS": address},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not list(shared.glob("on-cluster/*/checkpoint_000000")):  # trials are running on both nodes
        assert search.poll() is None, search.stderr.read()[-3000:]
        assert time.monotonic() < deadline, "no trial reached its first checkpoint"
        time.sleep(1)
    os.killpg(worker.pid, signal.SIGKILL)  # the worker node and its trial die
    out, err = search.communicate(timeout=600)
    assert search.returncode == 0, err[-3000:]
    result = json.loads(out)
    assert len(result["trials"]) == 4
    assert result["completed"] == 4, result["trials"]
    assert result["chosen"]["feasible"]
