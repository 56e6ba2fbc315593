"""The search (`ppg tune`) against an exhaustive sweep of every configuration, at the same per-trial budget.

Run: .venv/bin/python benchmarks/tune.py [--quick] [--seeds N] [--jobs J] [--fresh] [--rerun-search]
Writes benchmarks/results/tune.json and .md (tune-quick.* with --quick); every finished seed is also
kept in benchmarks/results/tune-seeds/ and reused, so that an interrupted run loses nothing. With
--rerun-search, seeds in the committed results keep their sweep (deterministic training: the two
configurations compared on test are retrained and checked to reproduce it) and run the search again.
With --fresh every seed is measured on this code. Each seed records the commit it was measured on.

Four tasks (HR, SpO2, RR, AF) have 15 partitions; with 2 balancers the sweep trains all 30
configurations, each for the same epochs as a search trial (learning rate and width fixed, so both
explore exactly the same space). The search is the real ``flows.tune.search.run_search`` (warm-up
affinity, candidate groupings, NSGA-II constrained by AF, Ray Tune), given a fifth of the sweep's
trial-epochs, its warm-up counted. Both choose by ``registry.searches.CHOICE_RULE`` on validation; the
choices are compared on the test subjects with paired subject-bootstrap intervals per task. The search
"finds" the sweep's best when it chooses the same configuration, or one that no task's paired 95 %
interval shows worse than it.

Also measured: the compute each spent (trial-epochs, wall time on the same cores), and the Spearman rank
correlation between the warm-up's affinity score of a partition and its measured quality (test delta_m
against all tasks alone with the same balancer). Data: the multi-task benchmark's (``mtl``) sources and
AF cohort, split by the training path's own stratified subject split; a seed changes split and
initialisation.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mtl import benchmark_table
from results_io import CODE, RESULTS, short, write_results
from tune_report import markdown, summarise

from flows.tune.config import TuneConfig
from flows.tune.space import label, trial_config
from flows.tune.trainable import validation_metrics
from ppg_models.evaluation.paired import paired_improvement
from ppg_models.evaluation.primary import primary_metrics
from ppg_models.tasks import get_task
from ppg_models.training.config import TrainConfig
from ppg_models.training.data import WindowSet
from ppg_models.training.grouping import grouping_score, partitions
from ppg_models.training.run import prepare_splits
from registry.searches import choose_trial

TASKS = ["hr", "spo2", "rr", "af"]
BALANCERS = ["fixed", "upgrad"]
LR, WIDTHS = 3e-3, [32, 40, 48, 64]
OBJECTIVES = [f"val.{t}.{get_task(t).primary_metric}" for t in TASKS]
MIN_AF_SUBJECTS = {"val": 5, "test": 20}
MODES: dict[str, dict[str, Any]] = {
    "quick": {"batches": 3, "windows": 150, "af_batches": 12, "af_windows": 250, "epochs": 2,
              "epoch_windows": 256, "thin": 4, "af_floor": 0.5, "seeds": 1, "bootstrap": 200},
    "full": {"batches": 6, "windows": 500, "af_batches": 12, "af_windows": 250, "epochs": 6,
             "epoch_windows": 1024, "thin": 3, "af_floor": 0.6, "seeds": 3, "bootstrap": 500},
}  # fmt: skip
WARMUP_EPOCHS = 1
BUDGET_SHARE = 0.2  # the search gets at most this share of the sweep's trial-epochs, warm-up included

_PARTS: dict[str, WindowSet] = {}


def thinned(table: pa.Table, every: int) -> pa.Table:
    """Every ``every``-th window of each subject: the same subjects (the evidence) for less compute;
    a session's neighbouring windows are close to copies of each other."""
    subjects = table.column("subject_id").to_numpy(zero_copy_only=False)
    rank = pd.Series(subjects).groupby(subjects).cumcount().to_numpy()
    return table.filter(pa.array(rank % every == 0))


def base_config(path: Path, mode: dict[str, Any], seed: int) -> dict[str, Any]:
    return {
        "data": {"paths": [str(path)], "fractions": [0.6, 0.15, 0.25]},
        "model": {"tasks": TASKS},
        "optim": {
            "epochs": mode["epochs"],
            "patience": mode["epochs"],  # no early stop: every trial spends its whole budget
            "epoch_windows": mode["epoch_windows"],
            "lr": LR,
        },
        "seed": seed,
        "threads": 1,
    }


def space_section() -> dict[str, Any]:
    return {
        "groupings": "auto",
        "candidates": 3,
        "balancers": {b: {} for b in BALANCERS},
        "lr": {"low": LR, "high": LR},
        "widths": {"base": WIDTHS},
    }


def af_subjects(parts: dict[str, WindowSet]) -> dict[str, int]:
    out = {}
    for name, part in parts.items():
        frame = pd.DataFrame({"subject": part.meta["subject_id"], "af": part.labels["af"]}).dropna()
        out[name] = int((frame.groupby("subject")["af"].max() > 0).sum())
    return out


def _init_worker(base: dict[str, Any]) -> None:
    import torch

    torch.set_num_threads(1)
    _PARTS.update(prepare_splits(TrainConfig.model_validate(base)))


def sweep_trial(base: dict[str, Any], grouping: str, balancer: str) -> dict[str, Any]:
    """One configuration trained like a search trial (``flows.tune.trainable``): its validation metrics
    at each group's best epoch, and its test predictions."""
    from flows.tune.config import Space
    from ppg_models.training.trainer import Trainer

    params = {"grouping": grouping, "balancer": balancer, "lr": LR, "widths": "base", "backbone": "resnet1d"}
    with tempfile.TemporaryDirectory() as tmp:
        config = trial_config(TrainConfig.model_validate(base), Space(**space_section()), params, tmp)
        trainer = Trainer(config, _PARTS["train"], _PARTS["val"], Path(tmp))
        t0 = time.perf_counter()
        epochs = sum(1 for _ in trainer.epochs())
        seconds = time.perf_counter() - t0
        val = validation_metrics(trainer, _PARTS["val"])
        test = trainer.model.predict(_PARTS["test"].inputs())
    return {
        "grouping": grouping,
        "balancer": balancer,
        "epochs": epochs,
        "seconds": seconds,
        "val": val,
        "test_predictions": {t: np.asarray(test[t], dtype=float) for t in TASKS},
    }


def run_sweep(base: dict[str, Any], jobs: int) -> tuple[list[dict[str, Any]], float]:
    keys = [(label(p), b) for p in partitions(TASKS) for b in BALANCERS]
    t0 = time.perf_counter()
    spawn = multiprocessing.get_context("spawn")  # never fork a process that holds Ray's or torch's threads
    with ProcessPoolExecutor(jobs, mp_context=spawn, initializer=_init_worker, initargs=(base,)) as pool:
        futures = [pool.submit(sweep_trial, base, g, b) for g, b in keys]
        rows = []
        for f in futures:
            rows.append(f.result())
            r = rows[-1]
            print(
                f"  {r['grouping']:22} {r['balancer']:7} {r['seconds']:5.1f} s  "
                + " ".join(f"{k.split('.')[1]} {v:.3f}" for k, v in r["val"].items()),
                file=sys.stderr,
            )
    return rows, time.perf_counter() - t0


def run_tuner(base: dict[str, Any], mode: dict[str, Any], seed: int, jobs: int, storage: Path):
    """The real search, with a fifth of the sweep's trial-epochs (warm-up included)."""
    from flows.tune.search import run_search

    sweep_epochs = len(list(partitions(TASKS))) * len(BALANCERS) * mode["epochs"]
    trials = int((BUDGET_SHARE * sweep_epochs - WARMUP_EPOCHS) // mode["epochs"])
    config = TuneConfig.model_validate(
        {
            "name": f"bench-seed{seed}",
            "base": base,
            "space": space_section(),
            "search": {
                "mode": "multi",
                "trials": trials,
                "concurrent": jobs,
                "af_floor": mode["af_floor"],
                "warmup_epochs": WARMUP_EPOCHS,
                "seed": seed,
                "num_cpus": jobs,
                "storage": str(storage),
            },
        }
    )
    t0 = time.perf_counter()
    outcome = run_search(config, resume=False, say=lambda m: print(f"  {m}", file=sys.stderr), echo=False)
    return outcome, time.perf_counter() - t0


def _frame(rows: list[dict[str, Any]], floor: float) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "grouping": r["grouping"],
                "balancer": r["balancer"],
                "status": "completed",
                "feasible": r["val"].get("val.af.auroc", -1.0) >= floor,
                **{o: r["val"].get(o, np.nan) for o in OBJECTIVES},
            }
            for r in rows
        ]
    )


def _predictions(row: dict[str, Any], test: WindowSet) -> pd.DataFrame:
    frame = test.meta[["window_id", "subject_id"]].copy()
    for t in TASKS:
        frame[f"label_{t}"] = test.labels[t]
        frame[f"pred_{t}"] = row["test_predictions"][t]
    return frame


def delta_m(metrics: dict[str, float], reference: dict[str, float]) -> float:
    """Mean relative improvement (%) over the reference on every task (positive is better)."""
    terms = []
    for t in TASKS:
        sign = 1.0 if get_task(t).higher_is_better else -1.0
        terms.append(sign * (metrics[t] - reference[t]) / reference[t] * 100)
    return float(np.mean(terms))


def affinity_correlation(plan: dict[str, Any], measured: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Spearman correlation, over the partitions whose pairs all have a trusted affinity, between the
    warm-up's affinity score and the measured test delta_m (per balancer, and the better of the two)."""
    affinity = plan.get("affinity")
    if affinity is None:
        return {"partitions": 0}
    matrix = np.array([[np.nan if v is None else v for v in row] for row in affinity["matrix"]], float)
    tasks, index = affinity["tasks"], {t: i for i, t in enumerate(affinity["tasks"])}
    scores = {}
    for p in partitions(tasks):
        pairs = [(index[a], index[b]) for g in p for a in g for b in g if a != b]
        if not any(np.isnan(matrix[i, j]) for i, j in pairs):
            scores[label(p)] = grouping_score(p, matrix, tasks)
    out: dict[str, Any] = {"partitions": len(scores), "scores": scores}
    names = sorted(scores)
    predicted = [scores[n] for n in names]
    for key in [*BALANCERS, "best"]:
        values = [measured[n][key] for n in names]
        rho, p = spearmanr(predicted, values) if len(names) >= 3 else (np.nan, np.nan)
        out[key] = {"rho": float(rho), "p": float(p)}
    return out


def retrain_for_predictions(base: dict[str, Any], rows: list[dict[str, Any]], jobs: int) -> None:
    """Test predictions of kept sweep configurations (the results keep metrics, not predictions):
    retrained the way the sweep trained them (a fresh spawned worker each), and checked to reproduce
    the kept validation metrics exactly, so that a search re-run is compared with the same sweep."""
    todo = list({id(r): r for r in rows if "test_predictions" not in r}.values())  # each once
    if not todo:
        return
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=spawn, initializer=_init_worker, initargs=(base,)) as pool:
        fresh = list(pool.map(sweep_trial, [base] * len(todo), [r["grouping"] for r in todo],
                              [r["balancer"] for r in todo]))  # fmt: skip
    for r, f in zip(todo, fresh, strict=True):
        drift = max(abs(f["val"][o] - r["val"][o]) for o in r["val"])
        if drift > 1e-6:
            raise SystemExit(f"{r['grouping']} {r['balancer']}: retrained validation differs by {drift:g}")
        r["test_predictions"] = f["test_predictions"]


def one_seed(
    mode: dict[str, Any], seed: int, jobs: int, work: Path, kept: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One seed: the sweep (or ``kept``, an earlier result's sweep of the same data) and the search."""
    data = work / f"seed{seed}.parquet"
    pq.write_table(thinned(benchmark_table(mode), mode["thin"]), data)
    base = base_config(data, mode, seed)
    parts = prepare_splits(TrainConfig.model_validate(base))
    counts = af_subjects(parts)
    for name, least in MIN_AF_SUBJECTS.items():
        if counts[name] < least:
            raise SystemExit(f"seed {seed}: {counts[name]} AF-positive subjects in {name}, needs {least}")
    if kept is None:
        configs = len(list(partitions(TASKS))) * len(BALANCERS)
        print(f"seed {seed}: sweep of {configs} configs", file=sys.stderr)
        rows, sweep_wall = run_sweep(base, jobs)
        sweep_epochs = sum(r["epochs"] for r in rows)
    else:
        rows = [dict(r) for r in kept["configs"]]
        sweep_wall, sweep_epochs = kept["wall_s"], kept["trial_epochs"]
    print(f"seed {seed}: sweep {sweep_wall:.0f} s; search", file=sys.stderr)
    outcome, search_wall = run_tuner(base, mode, seed, jobs, work / "tune")

    by_key = {(r["grouping"], r["balancer"]): r for r in rows}
    test = parts["test"]
    for r in rows:
        if "test_predictions" in r:
            r["test"] = primary_metrics(r["test_predictions"], test.labels)
    sweep = _frame(rows, mode["af_floor"])
    best_label = choose_trial(sweep, OBJECTIVES)
    best = None if best_label is None else by_key[tuple(sweep.loc[best_label, ["grouping", "balancer"]])]

    frame = outcome["frame"]
    chosen_label = choose_trial(frame, OBJECTIVES)
    picked = None
    if chosen_label is not None:
        row = frame.loc[chosen_label]
        picked = by_key[(row["param grouping"], row["param balancer"])]
    retrain_for_predictions(base, [r for r in (best, picked) if r is not None], jobs)
    # the same configuration trains the same way in the search and in the sweep: checked, not assumed
    drift = []
    for rec in frame.to_dict("records"):
        twin = by_key.get((rec["param grouping"], rec["param balancer"]))
        if twin and rec["status"] == "completed":
            drift += [abs(rec[o] - twin["val"][o]) for o in OBJECTIVES if o in twin["val"]]

    paired = {}
    if picked is not None and best is not None:
        a, b = _predictions(picked, test), _predictions(best, test)
        for t in TASKS:
            interval, _, subjects = paired_improvement(a, b, t, mode["bootstrap"], seed)
            paired[t] = {**vars(interval), "subjects": subjects}
    same = best is not None and picked is best  # nothing feasible on either side finds nothing
    within = same or (bool(paired) and all(p["high"] >= 0 for p in paired.values()))

    measured: dict[str, dict[str, float]] = {}
    for p in partitions(TASKS):
        g = label(p)
        measured[g] = {
            b: delta_m(by_key[(g, b)]["test"], by_key[(label([[t] for t in TASKS]), b)]["test"])
            for b in BALANCERS
        }
        measured[g]["best"] = max(measured[g][b] for b in BALANCERS)

    search_epochs = WARMUP_EPOCHS + sum(len(h) for h in outcome["histories"].values())

    def describe(r):
        return None if r is None else {"grouping": r["grouping"], "balancer": r["balancer"],
                                       "val": r["val"], "test": r["test"]}  # fmt: skip

    return {
        "seed": seed,
        "sweep_kept_from_earlier_run": kept is not None,
        "af_positive_subjects": counts,
        "windows": {k: len(v) for k, v in parts.items()},
        "sweep": {
            "best": describe(best),
            "trial_epochs": sweep_epochs,
            "wall_s": sweep_wall,
            "feasible": int(sweep["feasible"].sum()),
            "configs": [{k: v for k, v in describe(r).items()} for r in rows],
        },
        "search": {
            "chosen": describe(picked),
            "trials": len(frame),
            "trial_epochs": search_epochs,
            "wall_s": search_wall,
            "tried": [
                {"grouping": r["param grouping"], "balancer": r["param balancer"], "status": r["status"]}
                for r in frame.to_dict("records")
            ],
            "candidates": outcome["plan"]["candidates"],
            "max_val_difference_from_sweep": float(max(drift)) if drift else None,
        },
        "paired_vs_sweep_best": paired,
        "same_configuration": same,
        "found": bool(within),
        "compute_share": {"trial_epochs": search_epochs / sweep_epochs, "wall": search_wall / sweep_wall},
        "delta_m_vs_all_alone": measured,
        "affinity_rank_correlation": affinity_correlation(outcome["plan"], measured),
    }


def published_seed(name: str, mode: dict[str, Any], seed: int) -> dict[str, Any] | None:
    """The seed's result in the committed results, when they were made with the same settings."""
    published = RESULTS / ("tune-quick.json" if name == "quick" else "tune.json")
    if not published.is_file():
        return None
    saved = json.loads(published.read_text())
    if {k: saved.get("settings", {}).get(k) for k in mode} != mode:
        return None
    return next((r for r in saved.get("seeds", []) if r.get("seed") == seed), None)


def kept_seed(
    name: str, mode: dict[str, Any], seed: int, jobs: int, work: Path, rerun_search: bool, fresh: bool = False
):
    """A seed's result, from benchmarks/results/tune-seeds/ when an earlier run of the same settings
    finished it, else from the committed results (a fresh clone adds seeds without redoing these).
    With ``rerun_search`` a committed seed keeps its sweep and runs the search again (after a change
    to the search). With ``fresh`` nothing is kept: the seed is measured on this code. A kept seed
    measured on other code says so (here and in the report)."""
    keep = RESULTS / "tune-seeds" / f"{name}-seed{seed}.json"
    settings = json.dumps(mode, sort_keys=True) + (" rerun-search" if rerun_search else "")
    if keep.is_file() and not fresh:
        saved = json.loads(keep.read_text())
        if saved.get("settings") == settings:
            _say_kept(seed, str(keep), saved["result"])
            return saved["result"]
    published = None if fresh else published_seed(name, mode, seed)
    if published is not None and not rerun_search:
        _say_kept(seed, "the committed results", published)
        return published
    kept_sweep = published["sweep"] if published is not None else None
    result = one_seed(mode, seed, jobs, work, kept_sweep) | {"code": CODE}
    keep.parent.mkdir(parents=True, exist_ok=True)
    keep.write_text(json.dumps({"settings": settings, "result": result}, default=float) + "\n")
    return result


def _say_kept(seed: int, where: str, result: dict[str, Any]) -> None:
    commit = (result.get("code") or {}).get("commit")
    note = (
        ""
        if commit == CODE["commit"]
        else (
            f"; measured on {short(commit, 'unrecorded code')}, not this checkout's"
            f" {short(CODE['commit'])} (--fresh measures it again)"
        )
    )
    print(f"seed {seed}: kept from {where}{note}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run in a few minutes")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--jobs", type=int, default=2, help="configurations trained at once (both sides)")
    parser.add_argument(
        "--rerun-search",
        action="store_true",
        help="seeds in the committed results keep their sweep and run the search again",
    )
    parser.add_argument(
        "--fresh", action="store_true", help="measure every seed on this code: keep nothing from earlier runs"
    )
    args = parser.parse_args()
    name = "quick" if args.quick else "full"
    mode = MODES[name]
    seeds = list(range(args.seeds or mode["seeds"]))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ppg-tune-bench-") as tmp:
        os.environ["PPG_HOME"] = str(Path(tmp) / "home")
        per_seed = [
            kept_seed(name, mode, s, args.jobs, Path(tmp), args.rerun_search, args.fresh) for s in seeds
        ]
    payload = {
        "mode": name,
        "settings": mode
        | {"tasks": TASKS, "balancers": BALANCERS, "lr": LR, "widths": WIDTHS, "warmup_epochs": WARMUP_EPOCHS}
        | {"budget_share": BUDGET_SHARE, "jobs": args.jobs},
        "summary": summarise(per_seed, BUDGET_SHARE),
        "seeds": per_seed,
        "wall_s": time.perf_counter() - t0,
    }
    write_results("tune-quick" if args.quick else "tune", payload, markdown(payload))


if __name__ == "__main__":
    main()
