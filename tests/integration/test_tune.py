"""`ppg tune` end to end on a small lake with a local Ray: a search whose driver is killed with SIGKILL
resumes (``--resume``) and finishes the same number of trials; every trial is in MLflow under one
parent, the chosen trial is feasible, and the chosen configuration is retrained, registered and gated."""

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
from servers import kill_marked
from tune_world import small_lake, tiny_base

pytestmark = pytest.mark.slow

PPG = [str(Path(sys.executable).with_name("ppg"))]


@pytest.fixture(scope="module")
def tune_home(tmp_path_factory):
    """A lake with one dataset version, an MLflow store, a registry with an admin and a trainer, and the
    lenient test policy in force."""
    home = tmp_path_factory.mktemp("tune-home")
    env = {
        "PPG_HOME": str(home),
        "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
        "PPG_REGISTRY_DB": f"sqlite:///{home / 'registry.db'}",
    }
    mp = pytest.MonkeyPatch()
    for k, v in env.items():
        mp.setenv(k, v)
    try:
        small_lake(home)
        yield home, env
    finally:
        mp.undo()


def _config(path: Path, name: str, **search) -> Path:
    raw = {
        "name": name,
        "base": tiny_base(epochs=2),
        "space": {
            "candidates": 1,
            "min_pair_windows": 20,
            "balancers": {"fixed": {}, "famo": {"lr": {"low": 0.01, "high": 0.1}}},
            "widths": {"tiny": [8, 8, 16, 16]},
        },
        "search": {"trials": 3, "concurrent": 2, "af_floor": 0.0, "num_cpus": 2, "max_failures": 1} | search,
    }
    path.write_text(yaml.safe_dump(raw))
    return path


def _run(args: list[str], env: dict, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        PPG + args, env=os.environ | env, capture_output=True, text=True, timeout=600, check=False, **kw
    )


def test_a_killed_search_resumes_logs_every_trial_and_registers_the_chosen_model(tune_home, tmp_path):
    from registry import searches

    home, env = tune_home
    config = _config(tmp_path / "r.yaml", "resumed", trials=3, concurrent=1)
    mark = {"PPG_TEST_DRIVER": f"killed-search-{os.getpid()}"}  # inherited by the Ray the driver starts
    proc = subprocess.Popen(
        [*PPG, "tune", "--config", str(config)],
        env=os.environ | env | mark,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,  # a line per finished trial
        text=True,
        start_new_session=True,
    )
    seen = []
    deadline = time.monotonic() + 400
    try:
        for line in proc.stderr:
            seen.append(line)
            if " completed " in line or time.monotonic() > deadline:
                break
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray it started
        proc.wait()
    assert any(" completed " in line for line in seen), "".join(seen[-30:])
    kill_marked(*next(iter(mark.items())))  # its Ray, and no other test's cluster

    refused = _run(["tune", "--config", str(config)], env)
    assert refused.returncode == 1
    assert "pass --resume" in refused.stderr
    again = _run(
        ["tune", "--config", str(config), "--resume", "--user", "tina", "--json"],
        env | {"PPG_PASSWORD": "tina-password"},
    )
    assert again.returncode == 0, again.stderr[-3000:]
    out = json.loads(again.stdout)
    assert len(out["trials"]) == 3, out["trials"]
    assert out["completed"] == 3, out["trials"]
    assert {c["origin"] for c in out["candidates"]} >= {"reference: all shared", "reference: all singletons"}
    assert out["chosen"]["feasible"]
    assert str(out["model"]["version"]) == "1"
    assert out["model"]["gate"]["outcome"] in ("pass", "fail")
    frame, objectives = searches.trials(out["mlflow_search_run"])
    assert objectives == ["val.hr.mae", "val.rr.mae", "val.af.auroc"]
    assert len(frame) == 3
    assert int(frame["chosen"].sum()) == 1
    assert bool(frame.loc[frame["chosen"], "feasible"].iloc[0])
    assert searches.list_searches().loc[0, "rule"] == searches.CHOICE_RULE
    assert (home / "tune" / "resumed" / "ppg-search.json").is_file()
