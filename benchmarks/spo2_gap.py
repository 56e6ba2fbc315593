"""Why multi-task SpO2 lags the single-task model: is it the blood-pressure tasks on the shared backbone?

Run: .venv/bin/python benchmarks/spo2_gap.py [--seeds 0 1] [--jobs 2]. Writes
benchmarks/results/spo2_gap.json and .md.

In the full MTL benchmark, the multi-task SpO2 error was about twice the single-task model's
(1.8-1.9 % ARMS against 1.0), and that gap is what keeps Δm above 0. BP barely learns from these windows,
(its validation loss stays near where it started), yet under equal weights its gradients shape the shared
backbone as much as SpO2's. The rows, trained on the full MTL benchmark's data, split and
budget (``mtl.py``: same tables, stratified split, 30 epochs of 2048 windows, patience 6, one thread):

- ``single-spo2``: the single-task reference;
- ``mtl-equal``: all six tasks on one backbone, equal weights (the benchmark's row);
- ``mtl-no-bp``: HR, SpO2, RR and AF on one backbone, BP not trained at all;
- ``mtl-bp-apart``: the same four on one backbone and SBP/DBP on a second (a grouping the search can
  choose).

Every figure is the test split's, with its 95 % subject-bootstrap interval (``mtl.scored``).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mtl
from results_io import write_results

from ppg_models.tasks import TASK_NAMES, get_task

FOUR = ["hr", "spo2", "rr", "af"]
ROWS: dict[str, dict[str, Any]] = {
    "single-spo2": {"tasks": ["spo2"]},
    "mtl-equal": {},
    "mtl-no-bp": {"tasks": FOUR},
    "mtl-bp-apart": {"groups": [FOUR, ["sbp", "dbp"]]},
}


@functools.lru_cache(maxsize=1)  # jobs come seed by seed: a worker builds each seed's data once
def _parts(seed: int) -> dict:
    return mtl.seed_parts(mtl.MODES["full"], mtl.DATA_SEED + seed)[1]


def train_row(job: tuple[int, str]) -> dict[str, Any]:
    seed, name = job
    torch.set_num_threads(1)
    run = mtl.train_one(name, ROWS[name], {"name": "fixed"}, _parts(seed), mtl.MODES["full"], seed, "cpu")
    return {
        "seed": seed,
        "name": name,
        "best_epochs": run["best_epochs"],
        "epochs_run": run["epochs_run"],
        "parameters": run["parameters"],
        "train_seconds": run["train_seconds"],
        "tasks": mtl.scored(run["report"]),
    }


def _entry(row: dict[str, Any], task: str, metric: str) -> dict[str, Any] | None:
    return row["tasks"].get(task, {}).get(metric)


def _cell(entry: dict[str, Any] | None) -> str:
    if not entry or entry.get("value") is None:
        return "-"
    if entry.get("low") is None or entry.get("high") is None:
        return f"{entry['value']:.3g} [n/a]"
    return f"{entry['value']:.3g} [{entry['low']:.3g}, {entry['high']:.3g}]"


def markdown(rows: list[dict[str, Any]], seeds: list[int]) -> str:
    cols = [("spo2", "arms"), ("spo2", "mae")] + [
        (t, "mae" if get_task(t).kind == "regression" else get_task(t).primary_metric)
        for t in TASK_NAMES
        if t != "spo2"
    ]
    lines = [
        "# SpO2 in multi-task models: with BP on the shared backbone, without BP, and with BP apart",
        "",
        f"Full MTL benchmark data and split, seeds {', '.join(map(str, seeds))}; test split, point value "
        "[95 % subject-bootstrap interval]. SpO2 in % (ARMS and MAE), HR bpm, RR breaths/min, BP mmHg "
        "(MAE), AF AUROC.",
        "",
        "| seed | model | " + " | ".join(f"{t} {m}" for t, m in cols) + " | params |",
        "|" + "---|" * (len(cols) + 3),
    ]
    for r in rows:
        cells = [_cell(_entry(r, t, m)) for t, m in cols]
        lines.append(f"| {r['seed']} | {r['name']} | " + " | ".join(cells) + f" | {r['parameters']:,} |")
    lines += ["", "Mean over seeds, SpO2 ARMS: " + ", ".join(
        f"{name} {np.mean([_entry(r, 'spo2', 'arms')['value'] for r in rows if r['name'] == name]):.2f}"
        for name in ROWS
    ) + "."]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    started = time.perf_counter()
    jobs = [(seed, name) for seed in args.seeds for name in ROWS]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        rows = list(pool.map(train_row, jobs))
    payload = {
        "settings": {"mode": mtl.MODES["full"], "seeds": args.seeds, "rows": ROWS, "balancer": "fixed"},
        "rows": rows,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    write_results("spo2_gap", json.loads(json.dumps(payload, default=float)), markdown(rows, args.seeds))


if __name__ == "__main__":
    main()
