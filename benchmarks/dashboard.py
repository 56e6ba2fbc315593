"""Dashboard load time on a busy registry: time to first render of the models page and of a 5-version
comparison, with 100 and 500 registered versions (embedded stores: SQLite MLflow and registry).

Versions are real: one trained run is logged, registered and gated through ``register_run`` again and
again (each a new MLflow run with its params, metrics, report and model); version 1 is then approved as
the champion (approving it first would make every gate also run the champion, doubling the build
time). Each figure is the median of ``--repeats`` cold renders
(Streamlit's caches cleared) in a warm process, as a running dashboard serves a new visitor:

- server: the page's script run under Streamlit's AppTest (reads, scoring the gate's evidence, charts);
- browser: headless Chromium from navigation until the page's script has finished (Playwright), when
  Debian's chromium is installed.

Target: < 2 s for both at 500 versions.

Run: .venv/bin/python benchmarks/dashboard.py [--sizes 100 500] [--repeats 3]
Writes benchmarks/results/dashboard.json and .md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_io import write_results

# This file is named like the dashboard package: take its folder off the path so `import dashboard`
# (in the app under test) finds the package, not this script.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "dashboard" / "app.py")
PASSWORD = "bench-password-1"
POLICY = {
    "insufficient_blocks": False,
    "subgroups": [],
    "resamples": 1000,
    "tasks": {
        "hr": {"thresholds": [{"metric": "mae", "max": 60}], "non_inferiority": {"margin": 5},
               "min_windows": 5, "min_subjects": 2},
        "af": {"non_inferiority": {"margin": 0.9, "required": True}, "min_windows": 5, "min_subjects": 2},
    },
}  # fmt: skip


def _train(home: Path):
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
        path = write_batch(simulate_batch(source, 9, i, 300), lake.incoming / f"{i}.parquet")
        process_file(path, lake, policy, validator)
    config = TrainConfig.from_dict(
        {"data": {"dataset": record_version(lake).version}, "optim": {"epochs": 2, "batch_size": 32},
         "balancer": {"name": "famo"}, "bootstrap": 200, "out_dir": str(home / "runs" / "bench")}
    )  # fmt: skip
    return run_training(config, resume=False), config


def _people():
    from registry import policies
    from registry.gates.policy import GatePolicy
    from registry.users import add_user, authenticate

    add_user("admin", "admin", PASSWORD, None)
    admin = authenticate("admin", PASSWORD)
    add_user("trainer", "trainer", PASSWORD, admin)
    add_user("approver", "approver", PASSWORD, admin)
    policies.activate(GatePolicy.from_dict(POLICY), admin, "benchmark")
    return authenticate("trainer", PASSWORD), authenticate("approver", PASSWORD)


def _grow(run, config, trainer, approver, have: int, want: int) -> float:
    from registry.promotion import approve, decided_aliases
    from registry.registration import register_run

    started = time.perf_counter()
    for _ in range(have, want):
        result = register_run(run, config, trainer)
        if int(result.version) % 50 == 0:
            print(f"  {result.version} versions registered", flush=True)
    if decided_aliases()["champion"] is None:  # approved last: every gate above ran without a champion
        approve("1", approver)
    return time.perf_counter() - started


def _render(compare: list[str] | None) -> float:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params["page"] = "Models"
    if compare:
        at.session_state["compare"] = compare
    started = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - started
    if at.exception:
        raise RuntimeError(f"the page failed: {at.exception[0].value}")
    return elapsed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _browser(repeats: int) -> dict[str, float] | None:
    """Median seconds from navigation to the end of the script run in Chromium, caches cleared each time
    (a fresh server process per repeat would also time imports; the server is warmed once instead)."""
    chromium = os.environ.get("PPG_CHROMIUM") or shutil.which("chromium")
    if chromium is None:
        return None
    from playwright.sync_api import sync_playwright

    port = _free_port()
    ppg = str(Path(sys.executable).parent / "ppg")
    server = subprocess.Popen([ppg, "dashboard", "--port", str(port)], env=os.environ.copy(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        args = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run"]  # fmt: skip
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=args)

            def once() -> float:
                page = browser.new_page(viewport={"width": 1500, "height": 1100})
                started = time.perf_counter()
                page.goto(f"{url}/?page=Models")
                page.get_by_role("heading", name="Compare versions").wait_for(timeout=300_000)
                page.wait_for_selector("[data-testid=stStatusWidget]", state="detached", timeout=300_000)
                elapsed = time.perf_counter() - started
                page.get_by_role("button", name="Reload from the registry").click()  # clears the caches
                page.wait_for_timeout(300)
                page.wait_for_selector("[data-testid=stStatusWidget]", state="detached", timeout=300_000)
                page.close()
                return elapsed

            once()  # warms the server process (imports, MLflow store)
            times = [once() for _ in range(repeats)]
            browser.close()
        return {"models_page_s": round(statistics.median(times), 3)}
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["PPG_HOME"] = str(home)
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        run, config = _train(home)
        trainer, approver = _people()
        rows, have = [], 0
        for size in sorted(args.sizes):
            print(f"registering up to {size} versions", flush=True)
            build_s = _grow(run, config, trainer, approver, have, size)
            added, have = size - have, size
            _render(None)  # warm: imports and the MLflow store, as a running dashboard has them
            newest = [f"v{v}" for v in range(size, size - 4, -1)]
            models = [_render(None) for _ in range(args.repeats)]
            compare = [_render(["v1", *newest]) for _ in range(args.repeats)]
            browser = _browser(args.repeats)
            row = {
                "versions": size,
                "models_page_s": round(statistics.median(models), 3),
                "compare_5_s": round(statistics.median(compare), 3),
                "browser_models_page_s": browser["models_page_s"] if browser else None,
                "registration_s_per_version": round(build_s / max(1, added), 3),
            }
            print(row, flush=True)
            rows.append(row)
    target = 2.0
    lines = [
        "# Dashboard load time (cold caches, warm process; median of "
        f"{args.repeats}; embedded stores, 2 cores)",
        "",
        "| versions | models page (server render) s | 5-version comparison (server render) s |"
        " models page in Chromium s |",
        "|---:|---:|---:|---:|",
        *(
            f"| {r['versions']} | {r['models_page_s']} | {r['compare_5_s']} |"
            f" {r['browser_models_page_s'] if r['browser_models_page_s'] is not None else 'n/a'} |"
            for r in rows
        ),
        "",
        f"Target: < {target} s for both at 500 versions. The comparison scores each version's gate evidence"
        " (1,000 bootstrap resamples over subjects) for its Metrics section; the other sections (subgroups,"
        " agreement plots, curves, affinity, lineage) render when opened.",
    ]
    write_results("dashboard", {"rows": rows, "repeats": args.repeats, "target_s": target}, "\n".join(lines))


if __name__ == "__main__":
    main()
