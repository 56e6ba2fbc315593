"""Training speed with 1 and 2 PyTorch threads, on a quiet machine and with other work on the cores.

Run: .venv/bin/python benchmarks/threads_under_load.py [--steps N] [--rounds R]. Writes
benchmarks/results/threads_under_load.json and .md.

Each measurement is a fresh process that runs N training steps of the default multi-task model (all
six tasks on one backbone, 64 windows a step, Adam) with 1 or 2 threads, after one untimed step. "Busy
cores" runs as many spinning processes as the machine has cores less one beside it: what a second test
worker, a second Ray trial or any other job does to a training that assumes the machine is its own.
Rounds alternate the settings so that drift of the machine touches every setting alike. This is the
evidence for ``PPG_MAX_THREADS`` (``ppg_models.training.trainer.thread_count``) and for a trial's threads
following ``cpus_per_trial``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_io import write_results

STEP_SCRIPT = """
import sys, time, torch
from ppg_models.models.multitask import MultiTaskModel
from ppg_models.models.spec import ModelSpec
from ppg_models.tasks import TASK_NAMES
threads, steps = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)
model = MultiTaskModel(ModelSpec(groups=[list(TASK_NAMES)])).train()
opt = torch.optim.Adam(model.parameters(), 1e-3)
x = torch.randn(64, len(model.spec.input_channels), model.spec.samples)
def step():
    opt.zero_grad()
    sum(v.square().mean() for v in model(x).values()).backward()
    opt.step()
step()
t0 = time.perf_counter()
for _ in range(steps):
    step()
print((time.perf_counter() - t0) / steps)
"""


def _spin() -> None:
    while True:
        pass


def seconds_per_step(threads: int, steps: int, busy: int) -> float:
    spinners = [mp.Process(target=_spin, daemon=True) for _ in range(busy)]
    for p in spinners:
        p.start()
    try:
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        done = subprocess.run(
            [sys.executable, "-c", STEP_SCRIPT, str(threads), str(steps)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        for p in spinners:
            p.terminate()
            p.join()
    return float(done.stdout.strip().splitlines()[-1])


def markdown(rows: list[dict], steps: int, rounds: int) -> str:
    lines = [
        "# Training speed with 1 and 2 threads, quiet and with busy cores",
        "",
        f"{steps} training steps of the default all-tasks model (64 windows) a measurement, {rounds} rounds;"
        f" busy: {rows[0]['busy_processes_when_busy']} spinning process(es) beside the training on "
        f"{os.cpu_count()} cores. Seconds per step, median (min-max) over rounds.",
        "",
        "| cores | threads | s/step | vs 1 thread |",
        "|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['cores']} | {r['threads']} | {r['median_s']:.3f} ({r['min_s']:.3f}-{r['max_s']:.3f}) "
            f"| {r['vs_one_thread']:.2f}x |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    busy = max(1, (os.cpu_count() or 2) - 1)
    settings = [(cores, threads) for cores in ("quiet", "busy") for threads in (1, 2)]
    times: dict[tuple[str, int], list[float]] = {s: [] for s in settings}
    started = time.perf_counter()
    for _ in range(args.rounds):
        for cores, threads in settings:
            n = busy if cores == "busy" else 0
            times[(cores, threads)].append(seconds_per_step(threads, args.steps, n))
    rows = []
    for cores, threads in settings:
        t = times[(cores, threads)]
        one = float(np.median(times[(cores, 1)]))
        rows.append(
            {
                "cores": cores,
                "threads": threads,
                "busy_processes_when_busy": busy,
                "seconds_per_step": t,
                "median_s": float(np.median(t)),
                "min_s": min(t),
                "max_s": max(t),
                "vs_one_thread": float(np.median(t)) / one,
            }
        )
    payload = {
        "settings": {"steps": args.steps, "rounds": args.rounds, "batch": 64, "busy_processes": busy},
        "rows": rows,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    write_results(
        "threads_under_load", json.loads(json.dumps(payload)), markdown(rows, args.steps, args.rounds)
    )


if __name__ == "__main__":
    main()
