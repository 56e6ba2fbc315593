"""Registration and gate latency: how long a trained run takes to become a judged version, and each
decision after it, on the embedded stores (SQLite) and, when reachable, on an MLflow server backed by
PostgreSQL (the production configuration; server start-up not counted).

Steps timed (median of --repeats): log the run to MLflow (params, per-epoch metrics, report, plots,
dataset input, bundle, pyfunc model), register the version, gate it without a champion, gate it
against a champion (includes rebuilding the evaluation windows from the lake and running the
champion on them), approve, audit verification.

Run: .venv/bin/python benchmarks/registration.py [--repeats 3] [--no-postgres]
Writes benchmarks/results/registry.json and .md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_io import write_results

POSTGRES_ADMIN = os.environ.get("PPG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DEMO_POLICY = Path(__file__).resolve().parents[1] / "docs" / "examples" / "gates-demo.yaml"  # every task


def _world(home: Path):
    from flows.ingest.gx_validator import GxValidator
    from ppg_models.data.batch_io import write_batch
    from ppg_models.ingest.intake import process_file
    from ppg_models.ingest.policy import IngestPolicy
    from ppg_models.lake.dataset import record_version
    from ppg_models.lake.store import Lake
    from ppg_models.sim.simulate import simulate_batch
    from ppg_models.training.config import TrainConfig
    from ppg_models.training.run import run_training

    lake, policy = Lake.create(home / "lake"), IngestPolicy()
    validator = GxValidator(lake.root / "gx", policy)
    for i, source in enumerate(("icu", "wearable", "sleep-lab")):
        process_file(
            write_batch(simulate_batch(source, 9, i, 300), lake.incoming / f"{i}.parquet"),
            lake,
            policy,
            validator,
        )
    config = TrainConfig.from_dict(
        {"data": {"dataset": record_version(lake).version}, "optim": {"epochs": 1, "batch_size": 32},
         "balancer": {"name": "famo"}, "bootstrap": 200, "out_dir": str(home / "runs" / "bench")}
    )  # fmt: skip
    return run_training(config, resume=False), config


def _time(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t


def _measure(run, config, repeats: int) -> dict[str, float]:
    from registry import audit, evaluation_set
    from registry.gates.policy import GatePolicy
    from registry.gating import gate_version
    from registry.promotion import approve, audit_head, record_registration
    from registry.run_logging import log_run, register
    from registry.users import add_user, authenticate

    add_user("root", "admin", "root-password", None)
    root = authenticate("root", "root-password")
    add_user("tina", "trainer", "tina-password", root)
    add_user("alex", "approver", "alex-password", root)
    tina, alex = authenticate("tina", "tina-password"), authenticate("alex", "alex-password")
    policy = GatePolicy.from_yaml(DEMO_POLICY)
    times: dict[str, list[float]] = {k: [] for k in ("log_run", "register", "gate_no_champion", "approve",
                                                     "gate_vs_champion", "audit_verify")}  # fmt: skip
    for i in range(repeats):
        run_id, t = _time(log_run, run, config, "tina")
        times["log_run"].append(t)
        version, t = _time(register, run_id, run, "tina")
        times["register"].append(t)
        evidence = {"run_id": run_id, "weights_sha256": run.weights_sha256}
        pinned = evaluation_set.pin(run, config).row()
        record_registration(version, tina, evidence, pinned, run.bundle_sha256)
        if i == 0:
            _, t = _time(gate_version, version, policy, "tina")
            times["gate_no_champion"].append(t)
            _, t = _time(approve, version, alex, policy)
            times["approve"].append(t)
        else:
            _, t = _time(gate_version, version, policy, "tina")
            times["gate_vs_champion"].append(t)
        _, t = _time(lambda: audit.verify(audit_head()))
        times["audit_verify"].append(t)
    return {k: round(statistics.median(v), 3) for k, v in times.items() if v}


def _postgres_server(tmp: Path):
    import psycopg

    name = f"ppg_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    port = 5700 + os.getpid() % 200
    mlflow = Path(sys.executable).with_name("mlflow")
    proc = subprocess.Popen(
        [str(mlflow), "server", "--backend-store-uri", url, "--artifacts-destination", str(tmp / "art"),
         "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    import urllib.request

    for _ in range(240):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    return proc, url, name, f"http://127.0.0.1:{port}"


def _drop(name: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        os.environ["PPG_HOME"] = str(home)
        run, config = _world(home)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"
        os.environ["PPG_REGISTRY_DB"] = f"sqlite:///{tmp}/registry.db"
        rows["embedded (SQLite, local artifacts)"] = _measure(run, config, args.repeats)
        if not args.no_postgres:
            proc, db_url, name, server = _postgres_server(Path(tmp))
            try:
                os.environ["MLFLOW_TRACKING_URI"] = server
                os.environ["PPG_REGISTRY_DB"] = db_url
                rows["MLflow server on PostgreSQL (HTTP)"] = _measure(run, config, args.repeats)
            finally:
                proc.terminate()
                proc.wait(20)
                _drop(name)
    steps = list(next(iter(rows.values())))
    lines = [
        "# Registration and gate latency (seconds, median)",
        "",
        f"Test set: {run.splits['test']} windows; gate policy docs/examples/gates-demo.yaml (all six tasks,"
        " SpO2 per skin tone, 500 paired bootstrap resamples).",
        "",
        "| store | " + " | ".join(steps) + " |",
        "|---|" + "---:|" * len(steps),
    ]
    lines += [
        f"| {store} | " + " | ".join(str(v.get(s, "")) for s in steps) + " |" for store, v in rows.items()
    ]
    write_results("registration", {"test_windows": run.splits["test"], "stores": rows}, "\n".join(lines))


if __name__ == "__main__":
    main()
