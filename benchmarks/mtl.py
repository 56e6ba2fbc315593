"""Multi-task vs single-task on a fixed simulated benchmark, stratified by subject, over several seeds.

Run: .venv/bin/python benchmarks/mtl.py [--quick] [--seeds N | --seed-ids I ...] [--jobs J]
[--device cpu|cuda]. Writes benchmarks/results/mtl.json and .md (mtl-quick.* with --quick, a smoke
run); every finished seed is also kept in benchmarks/results/mtl-seeds/ so that an interrupted run
loses nothing. A full run takes hours on 2 cores, so it can be spread over several sittings:
``--seed-ids 1`` measures seed 1 only and summarises it with the other seeds of the committed results
(each seed records its commit; the report says whether the model code differs between them), and
keeps the committed thread check unless ``--thread-check`` is given.

Data: batches from every source in turn, plus a dedicated AF cohort (three further wearable studies,
their subjects named apart) so that the stratified split (the training path's own
``stratified_split``: source x AF status, BP strata spread by level) gives validation at least 5 and
test at least 20 AF-positive subjects; the split is checked and the counts recorded. A seed changes the
data split and the initialisation.

Compared, on the same split per seed: one single-task model per task; the multi-task network with
equal weights (always a row), with FAMO and UPGrad, with AF on its own backbone, and with AF protected
against a reference ceiling (the single-task AF model's validation loss); a constant predictor per
regression task (the training mean); the DSP baselines. Every metric has its 95 % subject-bootstrap
interval; seeds are summarised as mean +- SD (``mtl_report``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mtl_report import markdown, summarise, thread_check_summary
from results_io import CODE, RESULTS, same_model_code, write_results

from ppg_models.baselines.run import BASELINE_TASKS, estimate_vitals
from ppg_models.evaluation.paired import paired_improvement
from ppg_models.evaluation.report import EvaluationReport, evaluate
from ppg_models.models.multitask import MultiTaskModel, count_parameters
from ppg_models.models.spec import ModelSpec
from ppg_models.sim.simulate import batch_sources, simulate_batch
from ppg_models.tasks import TASK_NAMES, get_task
from ppg_models.training.config import TrainConfig
from ppg_models.training.data import WindowSet, stratified_split, windows_from_table
from ppg_models.training.run import run_training

DATA_SEED = 2026
AF_STUDIES = (2027, 2028, 2029)  # simulator seeds of the AF cohort's wearable studies
FRACTIONS = (0.6, 0.15, 0.25)
MIN_AF_SUBJECTS = {"val": 5, "test": 20}
OTHERS = [t for t in TASK_NAMES if t != "af"]
MODES: dict[str, dict[str, Any]] = {
    "quick": {"batches": 3, "windows": 300, "af_batches": 12, "af_windows": 250, "epochs": 3,
              "patience": 2, "epoch_windows": 1024, "seeds": 3, "bootstrap": 200},
    "full": {"batches": 6, "windows": 1000, "af_batches": 12, "af_windows": 250, "epochs": 30,
             "patience": 6, "epoch_windows": 2048, "seeds": 3, "bootstrap": 500},
}  # fmt: skip
#: multi-task rows: name -> (model section, balancer section); "REF" is replaced by the reference
MULTI: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "mtl-equal": ({}, {"name": "fixed"}),
    "mtl-famo": ({}, {"name": "famo"}),
    "mtl-upgrad": ({}, {"name": "upgrad"}),
    "mtl-af-own-backbone": ({"groups": [OTHERS, ["af"]]}, {"name": "fixed"}),
    "mtl-pcgrad+af-protected": (
        {},
        {"name": "pcgrad", "protected": "af", "protected_params": {"reference": "REF", "slack": 0.05}},
    ),
}


def _renamed(table: pa.Table, study: int) -> pa.Table:
    """A second study of the same source: its subjects are other people, so they get other ids."""
    ids = pc.binary_join_element_wise(pa.scalar(f"afstudy{study}"), table.column("subject_id"), "-")
    i = table.schema.get_field_index("subject_id")
    return table.set_column(i, table.schema.field(i), ids)


def benchmark_table(mode: dict[str, Any]) -> pa.Table:
    main = [
        simulate_batch(s, DATA_SEED, b, mode["windows"]) for b, s in enumerate(batch_sources(mode["batches"]))
    ]
    cohort = [
        _renamed(simulate_batch("wearable", study, b, mode["af_windows"]), study)
        for study in AF_STUDIES
        for b in range(mode["af_batches"])
    ]
    return pa.concat_tables(main + cohort)


def split(table: pa.Table, seed: int) -> tuple[dict[str, pa.Table], dict[str, int]]:
    """The training path's stratified subject split and each part's AF-positive subject count."""
    idx = stratified_split(table, FRACTIONS, seed)
    parts = {name: table.take(pa.array(i)) for name, i in idx.items()}
    counts = {}
    for name, part in parts.items():
        frame = part.select(["subject_id", "af"]).to_pandas().dropna()
        counts[name] = int((frame.groupby("subject_id")["af"].max() > 0).sum())
    for name, least in MIN_AF_SUBJECTS.items():
        if counts[name] < least:
            raise SystemExit(
                f"split seed {seed}: {counts[name]} AF-positive subjects in {name}, needs {least}"
            )
    return parts, counts


def seed_parts(
    mode: dict[str, Any], split_seed: int
) -> tuple[dict[str, pa.Table], dict[str, WindowSet], dict[str, int]]:
    """The benchmark's tables split for ``split_seed``, their model inputs, and each part's AF-positive
    subject count: what every benchmark trained on this data starts from."""
    tables, af_subjects = split(benchmark_table(mode), split_seed)
    return tables, {name: windows_from_table(t) for name, t in tables.items()}, af_subjects


def inference_ms_per_window(model_section: dict[str, Any], repeats: int = 7) -> float:
    """CPU time per window of one forward pass over 256 windows (2 threads, nothing else running: timed
    apart from training, on a model of the row's architecture)."""
    torch.set_num_threads(2)
    tasks = model_section.get("tasks", list(TASK_NAMES))
    model = MultiTaskModel(ModelSpec(groups=model_section.get("groups", [tasks]))).eval()
    batch = torch.randn(256, len(model.spec.input_channels), model.spec.samples)
    with torch.no_grad():
        model(batch)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(batch)
            times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times)) / len(batch)


def inference_times(models: list[str] | None) -> dict[str, float]:
    rows = {f"single-{t}": {"tasks": [t]} for t in TASK_NAMES}
    rows |= {
        name: model
        for name, (model, _) in MULTI.items()
        if not models or name in models or name == "mtl-equal"
    }
    return {name: inference_ms_per_window(section) for name, section in rows.items()}


def train_one(name, model, balancer, parts, mode, seed, device, threads=1, optim=None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig.from_dict(
            {
                "data": {"paths": ["in-memory"]},
                "model": model,
                "balancer": balancer,
                "optim": {
                    "epochs": mode["epochs"],
                    "patience": mode["patience"],
                    "epoch_windows": mode["epoch_windows"],
                    **(optim or {}),
                },
                "seed": seed,
                "threads": threads,
                "device": device,
                "bootstrap": mode["bootstrap"],
                "out_dir": tmp,
                "name": name,
            }
        )
        run = run_training(cfg, splits=parts, resume=False)
    m, history = run.training.model, run.training.history
    af_epoch = next((e for g, e in (run.training.best_epochs or {}).items() if "af" in g.split("+")), -1)
    return {
        "name": name,
        "report": run.report,
        "parameters": count_parameters(m),
        "train_windows_per_s": run.training.windows_per_second,
        "train_seconds": run.training.train_seconds,
        "epochs_run": len(history),
        "best_epochs": run.training.best_epochs,
        "af_val_loss": history[af_epoch]["val_loss"].get("af") if af_epoch >= 0 else None,
        "head_tuning": run.training.head_tuning,
    }


def constant_report(parts: dict[str, WindowSet], bootstrap: int) -> EvaluationReport:
    """Every regression task predicted as its training mean."""
    test = parts["test"]
    preds = {}
    for task in TASK_NAMES:
        if get_task(task).kind == "regression":
            y = parts["train"].labels[task]
            preds[task] = np.full(len(test), float(np.nanmean(y)))
    return evaluate(preds, test.labels, test.meta, model="constant", resamples=bootstrap)


def dsp_report(test_table: pa.Table, test: WindowSet, bootstrap: int) -> EvaluationReport:
    est = estimate_vitals(test_table)
    preds = {t: est[t].to_numpy() for t in BASELINE_TASKS}
    return evaluate(preds, test.labels, test.meta, model="dsp", resamples=bootstrap)


def scored(report: EvaluationReport) -> dict[str, Any]:
    """Per task: every metric with its interval, subject counts, and MAE on still and low-motion windows."""
    frame = report.predictions_frame()
    out = {}
    for task, res in report.tasks.items():
        entry = {m: vars(iv) for m, iv in res.metrics.items()}
        entry |= {"n_windows": res.n_windows, "n_subjects": res.n_subjects, "insufficient": res.insufficient}
        if res.n_positive_subjects is not None:
            entry |= {
                "af_positive_subjects": res.n_positive_subjects,
                "af_negative_subjects": res.n_negative_subjects,
            }
        if get_task(task).kind == "regression":
            for label, levels in (("mae_still", ["none"]), ("mae_low_motion", ["none", "low"])):
                sel = (
                    frame["motion"].isin(levels)
                    & frame[f"label_{task}"].notna()
                    & frame[f"pred_{task}"].notna()
                )
                diff = frame.loc[sel, f"pred_{task}"] - frame.loc[sel, f"label_{task}"]
                entry[label] = float(diff.abs().mean()) if sel.any() else None
        out[task] = entry
    return out


def af_paired(report: EvaluationReport, single_af: EvaluationReport, bootstrap: int, seed: int) -> dict:
    """AF AUROC of (multi - single) on the same test windows, paired subject bootstrap."""
    iv, n, subjects = paired_improvement(
        report.predictions_frame(), single_af.predictions_frame(), "af", bootstrap, seed
    )
    return {"value": iv.value, "low": iv.low, "high": iv.high, "n_windows": n, "n_subjects": subjects}


def run_seed(mode_name: str, seed: int, device: str, models: list[str] | None) -> dict[str, Any]:
    torch.set_num_threads(1)
    started = time.perf_counter()
    mode = MODES[mode_name]
    tables, parts, af_subjects = seed_parts(mode, DATA_SEED + seed)
    runs = [
        train_one(f"single-{t}", {"tasks": [t]}, {"name": "fixed"}, parts, mode, seed, device)
        for t in TASK_NAMES
    ]
    reference = next(r for r in runs if r["name"] == "single-af")["af_val_loss"]
    for name, (model, balancer) in MULTI.items():
        if models and name not in models and name != "mtl-equal":  # equal weighting is always a row
            continue
        balancer = json.loads(json.dumps(balancer).replace('"REF"', json.dumps(reference)))
        runs.append(train_one(name, model, balancer, parts, mode, seed, device))
        print(f"seed {seed}: trained {name}", flush=True)
    single_af = next(r for r in runs if r["name"] == "single-af")["report"]
    rows = []
    for r in runs:
        row = {k: v for k, v in r.items() if k != "report"} | {"tasks": scored(r["report"])}
        if "af" in r["report"].tasks and r["name"] != "single-af":
            row["af_auroc_vs_single"] = af_paired(r["report"], single_af, mode["bootstrap"], seed)
        rows.append(row)
    rows.append({"name": "constant", "tasks": scored(constant_report(parts, mode["bootstrap"]))})
    rows.append(
        {
            "name": "dsp-baselines",
            "tasks": scored(dsp_report(tables["test"], parts["test"], mode["bootstrap"])),
        }
    )
    result = {
        "seed": seed,
        "split_seed": DATA_SEED + seed,
        "windows": {k: len(v) for k, v in parts.items()},
        "subjects": {k: int(v.meta["subject_id"].nunique()) for k, v in parts.items()},
        "af_positive_subjects": af_subjects,
        "af_reference_val_loss": reference,
        "rows": rows,
        "code": CODE,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    keep = RESULTS / "mtl-seeds"
    keep.mkdir(parents=True, exist_ok=True)
    (keep / f"{mode_name}-seed{seed}.json").write_text(json.dumps(result, indent=1, default=float) + "\n")
    return result


def thread_check(mode_name: str, device: str) -> dict[str, Any]:
    """The equal-weight model trained twice on seed 0, with 1 and with 2 CPU threads."""
    mode = MODES[mode_name] | {"epochs": 2}
    _, parts, _ = seed_parts(mode, DATA_SEED)
    out = {}
    for threads in (1, 2):
        run = train_one(f"threads-{threads}", {}, {"name": "fixed"}, parts, mode, 0, device, threads=threads)
        out[threads] = {
            t: run["report"].tasks[t].metrics[get_task(t).primary_metric].value for t in ("hr", "af")
        }
    (RESULTS / "mtl-seeds" / f"{mode_name}-threads.json").write_text(json.dumps(out) + "\n")
    return out


def saved(mode_name: str) -> tuple[list[dict[str, Any]], dict[int, dict[str, float]] | None]:
    """The seeds (and thread check) an earlier, possibly interrupted, run of this mode kept."""
    keep = RESULTS / "mtl-seeds"
    per_seed = [json.loads(f.read_text()) for f in sorted(keep.glob(f"{mode_name}-seed*.json"))]
    threads_file = keep / f"{mode_name}-threads.json"
    threads = json.loads(threads_file.read_text()) if threads_file.is_file() else None
    return per_seed, None if threads is None else {int(k): v for k, v in threads.items()}


def published(
    mode_name: str, device: str, measuring: set[int], rows: list[str] | None = None
) -> tuple[list[dict[str, Any]], tuple[dict[int, dict[str, float]], dict[str, Any]] | None]:
    """The seeds of the committed results of this mode and device that are not being measured again and
    were measured on this checkout's model code (``ppg_models`` unchanged since their commit), and the
    thread check (with its code) when it was too; seeds of other model code, or (given ``rows``) with
    other rows, are named and left out."""
    path = RESULTS / ("mtl-quick.json" if mode_name == "quick" else "mtl.json")
    if not path.is_file():
        return [], None
    saved_run = json.loads(path.read_text())
    if saved_run.get("settings") != MODES[mode_name] or saved_run.get("device") != device:
        return [], None
    seeds, other = [], []
    for s in saved_run.get("per_seed", []):
        if s["seed"] not in measuring:
            same_rows = rows is None or [r["name"] for r in s["rows"]] == rows
            same = same_rows and same_model_code((s.get("code") or {}).get("commit"))
            (seeds if same else other).append(s["seed"])
    if other:
        print(f"committed seeds {other} were measured on other model code or rows: left out", flush=True)
    kept = [s for s in saved_run["per_seed"] if s["seed"] in seeds]
    check, code = saved_run.get("thread_check"), saved_run.get("thread_check_code")
    if not check or not same_model_code((code or {}).get("commit")):
        return kept, None
    return kept, ({int(k): v for k, v in check["threads"].items()}, code)


def seed_seconds(per_seed: list[dict[str, Any]]) -> float | None:
    """Training time summed over the kept seeds (each records its own), or None when any seed predates
    that record: a summary never borrows the wall time of an earlier results file."""
    walls = [s.get("wall_seconds") for s in per_seed]
    return None if any(w is None for w in walls) else round(sum(walls), 1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run of a few minutes: tiny data, 3 epochs"
    )
    parser.add_argument("--seeds", type=int, help="number of seeds (default: the mode's, 3)")
    parser.add_argument(
        "--seed-ids", type=int, nargs="+", help="measure only these seeds; the others come from the results"
    )
    parser.add_argument(
        "--thread-check", action="store_true", help="with --seed-ids: run the 1 vs 2 thread check too"
    )
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="seeds trained at once")
    parser.add_argument(
        "--models", nargs="*", help=f"multi-task rows to train (default all: {', '.join(MULTI)})"
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--summarise", action="store_true", help="only rebuild the results from kept seeds")
    args = parser.parse_args()
    mode_name = "quick" if args.quick else "full"
    mode = MODES[mode_name]
    seeds = args.seed_ids or list(range(args.seeds or mode["seeds"]))
    started = time.perf_counter()
    if args.summarise:
        per_seed, threads = saved(mode_name)
        if not per_seed:
            raise SystemExit(f"no kept seeds in {RESULTS / 'mtl-seeds'} for the {mode_name} mode")
        threads_code = None  # a kept thread check does not record its code
    else:
        n = len(seeds)
        with ProcessPoolExecutor(max_workers=max(1, min(args.jobs, n))) as pool:
            per_seed = list(pool.map(run_seed, [mode_name] * n, seeds, [args.device] * n, [args.models] * n))
            check = not args.seed_ids or args.thread_check
            threads = pool.submit(thread_check, mode_name, args.device).result() if check else None
        threads_code = CODE if threads else None
        if args.seed_ids:
            rows = [r["name"] for r in per_seed[0]["rows"]]
            earlier, earlier_check = published(mode_name, args.device, set(seeds), rows)
            per_seed = sorted(earlier + per_seed, key=lambda r: r["seed"])
            if threads is None and earlier_check is not None:
                threads, threads_code = earlier_check
    summary = summarise(per_seed, inference_times(args.models))
    payload = {
        "mode": mode_name,
        "smoke_run": args.quick,
        "settings": mode,
        "device": args.device,
        "data_seed": DATA_SEED,
        "af_studies": list(AF_STUDIES),
        "fractions": FRACTIONS,
        "summary": summary,
        "thread_check": None if threads is None else thread_check_summary(threads),
        "thread_check_code": threads_code,
        "per_seed": per_seed,
        "wall_seconds": None if args.summarise else round(time.perf_counter() - started, 1),
        "seed_seconds": seed_seconds(per_seed),
    }
    if args.summarise or args.seed_ids:  # the code each seed was measured on, not only today's
        payload["code"] = kept_code(per_seed)
    write_results("mtl-quick" if args.quick else "mtl", payload, markdown(payload))


def kept_code(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    codes = {json.dumps(s.get("code"), sort_keys=True) for s in per_seed}
    if len(codes) == 1 and per_seed[0].get("code"):
        return per_seed[0]["code"]
    return {"commit": None, "uncommitted": [], "per_seed": [s.get("code") for s in per_seed]}


if __name__ == "__main__":
    main()
