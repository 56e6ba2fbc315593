"""Head fine-tuning on frozen features (issue 16, item 3): the same multi-task run with and without it.

Run: .venv/bin/python benchmarks/head_tuning.py [--seeds N] [--jobs J]
Writes benchmarks/results/head_tuning.json and .md.

Data and split are the multi-task benchmark's (``mtl``: every source plus the AF cohort, the training
path's stratified subject split, at least 20 AF-positive test subjects), at a smaller budget than its full
run. Per seed, the multi-task network with UPGrad is trained once without head tuning and once with it;
training before the tuning is the same run (same seed, deterministic), so the difference is the tuning
alone. Reported per task: the test metric with its 95 % subject-bootstrap interval for both, the paired
difference's mean and SD over seeds, each head's validation loss before and after and the epoch it
kept, and the extra time.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mtl import DATA_SEED, scored, seed_parts, train_one
from results_io import write_results

from ppg_models.tasks import TASK_NAMES, get_task

MODE = {"batches": 6, "windows": 400, "af_batches": 12, "af_windows": 250, "epochs": 10,
        "patience": 4, "epoch_windows": 1024, "bootstrap": 300}  # fmt: skip
TUNING = {"epochs": 8, "patience": 3, "lr": 5e-4}


def _primary(task: str) -> str:
    return get_task(task).primary_metric


def _run(seed: int, tuned: bool) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    _, parts, af_subjects = seed_parts(MODE, DATA_SEED + seed)
    optim = {"head_tuning": TUNING} if tuned else None
    t0 = time.perf_counter()
    run = train_one("mtl-upgrad", {}, {"name": "upgrad"}, parts, MODE, seed, "cpu", optim=optim)
    return {
        "seed": seed,
        "tuned": tuned,
        "wall_s": time.perf_counter() - t0,
        "af_positive_subjects": af_subjects,
        "epochs_run": run["epochs_run"],
        "head_tuning": run["head_tuning"],
        "tasks": scored(run["report"]),
    }


def markdown(payload: dict[str, Any]) -> str:
    lines = [
        "# Head fine-tuning on frozen features: multi-task UPGrad with and without",
        "",
        f"Budget: {MODE['epochs']} epochs of {MODE['epoch_windows']} windows (patience {MODE['patience']}),"
        f" then up to {TUNING['epochs']} epochs of head tuning (patience {TUNING['patience']}, Adam lr"
        f" {TUNING['lr']}); {len(payload['seeds'])} seeds (split and initialisation); test metrics with 95 %"
        " subject-bootstrap intervals. HR, SpO2, RR, SBP, DBP: MAE (lower is better); AF: AUROC.",
        "",
        "| task | metric | seed | without | with | difference |",
        "|---|---|---|---|---|---|",
    ]
    for task, per in payload["by_task"].items():
        for s in per["seeds"]:
            lines.append(
                f"| {task} | {per['metric']} | {s['seed']} | {s['without']:.3f} [{s['without_low']:.3f},"
                f" {s['without_high']:.3f}] | {s['with']:.3f} [{s['with_low']:.3f}, {s['with_high']:.3f}]"
                f" | {s['with'] - s['without']:+.3f} |"
            )
        lines.append(
            f"| **{task}** | | mean ± SD | | | **{per['mean_difference']:+.3f} ± {per['sd_difference']:.3f}**"
            f" ({per['better_in']} of {len(per['seeds'])} seeds better) |"
        )
    lines += ["", "Heads (validation loss before -> after, epoch kept; 0 = the trained state was best):", ""]
    for s in payload["seeds"]:
        heads = ", ".join(
            f"{k} {h['val_before']:.3f} -> {h['val_after']:.3f} (epoch {h['kept_epoch']})"
            for k, h in s["head_tuning"].items()
            if isinstance(h, dict)
        )
        lines.append(f"- seed {s['seed']}: {heads}; {s['head_tuning']['epochs_run']} tuning epochs")
    lines += [
        "",
        f"Wall time per run: {payload['wall_without_s']:.0f} s without, {payload['wall_with_s']:.0f} s with.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    jobs = [(s, tuned) for s in range(args.seeds) for tuned in (False, True)]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(_run, *zip(*jobs, strict=True)))
    by_seed = {s: {r["tuned"]: r for r in results if r["seed"] == s} for s in range(args.seeds)}
    by_task = {}
    for task in TASK_NAMES:
        metric = _primary(task)
        rows = []
        for s, pair in by_seed.items():
            off, on = pair[False]["tasks"][task][metric], pair[True]["tasks"][task][metric]
            rows.append(
                {"seed": s, "without": off["value"], "without_low": off["low"], "without_high": off["high"],
                 "with": on["value"], "with_low": on["low"], "with_high": on["high"]}
            )  # fmt: skip
        diff = np.array([r["with"] - r["without"] for r in rows])
        sign = 1 if get_task(task).kind == "binary" else -1  # AUROC up, errors down
        by_task[task] = {
            "metric": metric,
            "seeds": rows,
            "mean_difference": float(diff.mean()),
            "sd_difference": float(diff.std(ddof=1)) if len(diff) > 1 else 0.0,
            "better_in": int((sign * diff > 0).sum()),
        }
    payload = {
        "mode": MODE,
        "tuning": TUNING,
        "by_task": by_task,
        "seeds": [by_seed[s][True] for s in by_seed],
        "untuned": [by_seed[s][False] for s in by_seed],
        "wall_without_s": float(np.mean([by_seed[s][False]["wall_s"] for s in by_seed])),
        "wall_with_s": float(np.mean([by_seed[s][True]["wall_s"] for s in by_seed])),
    }
    write_results("head_tuning", payload, markdown(payload))


if __name__ == "__main__":
    main()
