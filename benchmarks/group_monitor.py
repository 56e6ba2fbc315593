"""Which rule should pick a task group's epoch and stop its training: the arithmetic or the geometric mean
of the tasks' validation losses relative to their first epoch?

Run: .venv/bin/python benchmarks/group_monitor.py [--seeds 0 1 2] [--jobs J]. Writes
benchmarks/results/group_monitor.json and .md.

One multi-task model (equal weights, all six tasks on one backbone) is trained per seed on the full MTL
benchmark's data and split (``mtl.py``: same tables, same stratified split, same 30 epochs of 2048
windows), with early stopping switched off, and scored on the test split after every epoch. Both rules
are then replayed on the recorded validation losses with the benchmark's patience (6): where each would
have stopped, which epoch it would have kept, and that epoch's test metrics. Stopping early does not
change the epochs before it (the learning-rate schedule is set by the epoch budget), so one training per
seed answers for both rules. Test figures are point values (the choice of epoch is what is compared);
the MTL benchmark gives the intervals.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mtl
from results_io import write_results

from ppg_models.evaluation.report import evaluate
from ppg_models.tasks import TASK_NAMES, get_task
from ppg_models.training.config import TrainConfig
from ppg_models.training.selection import GroupSelection
from ppg_models.training.trainer import Trainer

PATIENCE = mtl.MODES["full"]["patience"]
RULES = ("arithmetic", "geometric")  # the rule training used before, and training's own (GroupSelection)


def _arithmetic(val: dict[str, float], first: dict[str, float]) -> float:
    """The former monitor: the arithmetic mean of each task's loss relative to its first epoch."""
    return float(np.mean([val[t] / max(first[t], 1e-8) for t in first]))


def test_metrics(trainer: Trainer, test) -> dict[str, float]:
    preds = trainer.model.predict(test.inputs())
    report = evaluate(preds, test.labels, test.meta, model="epoch", resamples=20, subgroup_attributes=())
    return {t: report.tasks[t].metrics[get_task(t).primary_metric].value for t in report.tasks}


def train_seed(seed: int) -> dict[str, Any]:
    torch.set_num_threads(1)
    started = time.perf_counter()
    mode = mtl.MODES["full"]
    _, parts, _ = mtl.seed_parts(mode, mtl.DATA_SEED + seed)
    epochs = []
    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig.from_dict(
            {
                "data": {"paths": ["in-memory"]},
                "balancer": {"name": "fixed"},
                "optim": {
                    "epochs": mode["epochs"],
                    "patience": mode["epochs"],
                    "epoch_windows": mode["epoch_windows"],
                },
                "seed": seed,
                "threads": 1,
                "device": "cpu",
                "out_dir": tmp,
            }
        )
        trainer = Trainer(config, parts["train"], parts["val"], Path(tmp) / "checkpoints")
        for record in trainer.epochs():
            epochs.append(
                {
                    "epoch": record["epoch"],
                    "val": record["val_loss"],
                    "test": test_metrics(trainer, parts["test"]),
                }
            )
    return {"seed": seed, "epochs": epochs, "wall_seconds": round(time.perf_counter() - started, 1)}


def replay(epochs: list[dict[str, Any]], rule: str, patience: int = PATIENCE) -> dict[str, Any]:
    """Where ``rule`` stops (the last epoch it trains) and which epoch it keeps; the geometric rule is
    training's own monitor (``GroupSelection.monitor``), so the benchmark measures the code that runs."""
    selection = GroupSelection([list(epochs[0]["val"])], patience)
    first = epochs[0]["val"]
    best, kept, stale = math.inf, 0, 0
    for e in epochs:
        value = selection.monitor(e["val"]) if rule == "geometric" else _arithmetic(e["val"], first)
        if value < best - 1e-6:
            best, kept, stale = value, e["epoch"], 0
        else:
            stale += 1
        if stale >= patience:
            break
    return {"stopped_after": e["epoch"], "kept": kept, "test": epochs[kept]["test"]}


def markdown(seeds: list[dict[str, Any]]) -> str:
    """The table of each seed's replays (``seeds`` as in the payload, ``replay`` included)."""
    tasks = [t for t in TASK_NAMES if t in seeds[0]["epochs"][0]["test"]]
    metric = {t: get_task(t).primary_metric for t in tasks}
    head = "| seed | rule | stopped after | kept | " + " | ".join(f"{t} {metric[t]}" for t in tasks) + " |"
    lines = [
        "# Group monitor: arithmetic vs geometric mean of relative validation losses",
        "",
        f"Multi-task, equal weights, one backbone; the full MTL benchmark's data and split per seed, "
        f"{mtl.MODES['full']['epochs']} epochs of {mtl.MODES['full']['epoch_windows']} windows, each rule "
        f"replayed with patience {PATIENCE} on the same training. Test point values at the kept epoch "
        "(AF: AUROC, higher is better; the rest: errors, lower is better).",
        "",
        head,
        "|" + "---|" * (4 + len(tasks)),
    ]
    tally = {t: [0, 0, 0] for t in tasks}  # geometric's kept epoch better, the same, worse
    for s in seeds:
        picks = s["replay"]
        for rule, p in picks.items():
            cells = " | ".join(f"{p['test'][t]:.3g}" for t in tasks)
            lines.append(f"| {s['seed']} | {rule} | {p['stopped_after']} | {p['kept']} | {cells} |")
        for t in tasks:
            a, g = picks["arithmetic"]["test"][t], picks["geometric"]["test"][t]
            sign = 1 if get_task(t).kind == "binary" else -1  # AUROC: higher is better
            tally[t][0 if sign * (g - a) > 0 else 1 if g == a else 2] += 1
    counts = ", ".join(f"{t} {'/'.join(map(str, tally[t]))}" for t in tasks)
    lines += ["", f"Geometric vs arithmetic rule: seeds where its kept epoch is better / the same / worse on "
              f"the test split: {counts}."]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        seeds = list(pool.map(train_seed, args.seeds))
    seeds = [s | {"replay": {rule: replay(s["epochs"], rule) for rule in RULES}} for s in seeds]
    payload = {
        "settings": {"mode": mtl.MODES["full"], "patience": PATIENCE, "rules": list(RULES)},
        "seeds": seeds,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    write_results("group_monitor", json.loads(json.dumps(payload, default=float)), markdown(seeds))


if __name__ == "__main__":
    main()
