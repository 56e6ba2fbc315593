"""Multi-task vs single-task on a fixed simulated benchmark with a subject-held-out test set.

Run: .venv/bin/python benchmarks/mtl.py [--quick]
Writes benchmarks/results/mtl.json and .md (mtl-quick.* with --quick).

Compared: one single-task ResNet per task; the hard-sharing ResNet with several loss balancers (and
PCGrad with AF protected); a soft-sharing or expert model; the DSP baselines. Reported per task: the
catalogue's metrics with 95% subject-bootstrap intervals, plus MAE on windows without motion; per
model: parameters, CPU inference time per window, training throughput and delta_m against the
single-task models.

delta_m (%) = mean over tasks of (-1)^h_t (M_model,t - M_single,t) / M_single,t x 100, with h_t = 1
when the task's primary metric is higher-is-better (AF AUROC). Negative delta_m is better than
single-task (Navon et al., 2022 convention).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_io import write_results

from ppg_models.baselines.run import BASELINE_TASKS, estimate_vitals
from ppg_models.evaluation.report import EvaluationReport, evaluate
from ppg_models.models.multitask import count_parameters
from ppg_models.sim.simulate import batch_sources, simulate_batch
from ppg_models.tasks import TASK_NAMES, get_task
from ppg_models.training.config import TrainConfig
from ppg_models.training.data import WindowSet, split_by_subject, windows_from_table
from ppg_models.training.run import run_training

SEED = 2026
MODES = {
    "quick": {
        "batches": 3,
        "windows": 700,
        "epochs": 4,
        "balancers": ["fixed", "uncertainty", "pcgrad", "famo"],
        "soft": "lora_experts",
    },
    "full": {
        "batches": 6,
        "windows": 1200,
        "epochs": 12,
        "balancers": [
            "fixed",
            "magnitude",
            "uncertainty",
            "dwa",
            "gradnorm",
            "pcgrad",
            "mgda",
            "cagrad",
            "famo",
        ],
        "soft": "lora_experts",
    },
}
TARGETS = {"hr": 2.0, "spo2": 1.5, "rr": 2.0}  # MAE on windows without motion


def benchmark_data(batches: int, windows: int) -> tuple[dict[str, WindowSet], pa.Table]:
    tables = [simulate_batch(src, SEED, b, windows) for b, src in enumerate(batch_sources(batches))]
    table = pa.concat_tables(tables)
    ws = windows_from_table(table)
    idx = split_by_subject(ws.meta["subject_id"].tolist(), (0.7, 0.1, 0.2), seed=SEED)
    return {name: ws.subset(i) for name, i in idx.items()}, table.take(pa.array(idx["test"]))


def inference_ms_per_window(
    model: torch.nn.Module, x: np.ndarray, device: str = "cpu", repeats: int = 5
) -> float:
    model = model.to(device).eval()
    batch = torch.from_numpy(x[:256]).to(device)
    with torch.no_grad():
        model(batch)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(batch)
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times)) / len(batch)


def clean_mae(report: EvaluationReport, task: str) -> float:
    frame = report.predictions_frame()
    sel = (frame["motion"] == "none") & frame[f"label_{task}"].notna() & frame[f"pred_{task}"].notna()
    return (
        float(np.mean(np.abs(frame.loc[sel, f"pred_{task}"] - frame.loc[sel, f"label_{task}"])))
        if sel.any()
        else float("nan")
    )


def train_one(
    name: str, model: dict[str, Any], balancer: dict[str, Any], epochs: int, parts, device: str
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig.from_dict(
            {
                "data": {"paths": ["in-memory"]},
                "model": model,
                "balancer": balancer,
                "optim": {"epochs": epochs, "batch_size": 64, "patience": 4},
                "device": device,
                "bootstrap": 200,
                "out_dir": tmp,
                "name": name,
            }
        )
        run = run_training(cfg, splits=parts, resume=False)
    m = run.training.model
    return {
        "name": name,
        "report": run.report,
        "parameters": count_parameters(m),
        "inference_ms_per_window": inference_ms_per_window(m.cpu(), parts["test"].x),
        "train_windows_per_s": run.training.windows_per_second,
        "best_epoch": run.training.best_epoch,
        "device": device,
    }


def dsp_report(test_table: pa.Table, parts) -> EvaluationReport:
    est = estimate_vitals(test_table)
    test = parts["test"]
    return evaluate(
        {t: est[t].to_numpy() for t in BASELINE_TASKS}, test.labels, test.meta, model="dsp", resamples=200
    )


def primary(report: EvaluationReport, task: str) -> float:
    result = report.tasks.get(task)
    return result.metrics[get_task(task).primary_metric].value if result else float("nan")


def delta_m(report: EvaluationReport, singles: dict[str, EvaluationReport], tasks: list[str]) -> float:
    terms = []
    for t in tasks:
        ours, base = primary(report, t), primary(singles[t], t)
        sign = -1.0 if get_task(t).higher_is_better else 1.0
        terms.append(sign * (ours - base) / base * 100)
    return float(np.mean(terms))


def run_models(mode: dict[str, Any], parts, device: str) -> list[dict[str, Any]]:
    runs = []
    for task in TASK_NAMES:
        runs.append(
            train_one(f"single-{task}", {"tasks": [task]}, {"name": "fixed"}, mode["epochs"], parts, device)
        )
        print(f"trained single-{task}", flush=True)
    for bal in mode["balancers"]:
        runs.append(train_one(f"mtl-{bal}", {}, {"name": bal}, mode["epochs"], parts, device))
        print(f"trained mtl-{bal}", flush=True)
    runs.append(
        train_one(
            "mtl-pcgrad+af-protected",
            {},
            {"name": "pcgrad", "protected": "af"},
            mode["epochs"],
            parts,
            device,
        )
    )
    runs.append(
        train_one(
            f"mtl-{mode['soft']}",
            {"backbone": mode["soft"]},
            {"name": "fixed"},
            mode["epochs"],
            parts,
            device,
        )
    )
    return runs


def summarise(runs: list[dict[str, Any]], dsp: EvaluationReport) -> dict[str, Any]:
    singles = {
        r["name"].removeprefix("single-"): r["report"] for r in runs if r["name"].startswith("single-")
    }
    single_params = sum(r["parameters"] for r in runs if r["name"].startswith("single-"))
    single_infer = float(
        np.mean([r["inference_ms_per_window"] for r in runs if r["name"].startswith("single-")])
    )
    rows = []
    for r in runs:
        rep = r["report"]
        tasks = [t for t in rep.tasks if t in singles]
        rows.append(
            {
                "model": r["name"],
                "parameters": r["parameters"],
                "inference_ms_per_window": round(r["inference_ms_per_window"], 4),
                "train_windows_per_s": round(r["train_windows_per_s"], 1),
                "best_epoch": r["best_epoch"],
                "delta_m_pct": None
                if r["name"].startswith("single-")
                else round(delta_m(rep, singles, tasks), 2),
                "tasks": {
                    t: {m: vars(iv) for m, iv in res.metrics.items()} | {"n": res.n_windows}
                    for t, res in rep.tasks.items()
                },
                "clean_mae": {t: clean_mae(rep, t) for t in TARGETS if t in rep.tasks},
            }
        )
    rows.append(
        {
            "model": "dsp-baselines",
            "tasks": {
                t: {m: vars(iv) for m, iv in res.metrics.items()} | {"n": res.n_windows}
                for t, res in dsp.tasks.items()
            },
            "clean_mae": {t: clean_mae(dsp, t) for t in TARGETS},
        }
    )
    return {
        "rows": rows,
        "single_task_parameters_total": single_params,
        "single_task_inference_ms_mean": single_infer,
        "singles": singles,
    }


def markdown(summary: dict[str, Any], title: str) -> str:
    tasks = list(TASK_NAMES)
    head = (
        "| model | params | infer ms/window | train windows/s | Δm % | "
        + " | ".join(f"{t} {get_task(t).primary_metric}" for t in tasks)
        + " | HR/SpO2/RR MAE, no motion |"
    )
    lines = [title, "", head, "|" + "---|" * (6 + len(tasks))]
    for r in summary["rows"]:
        cells = []
        for t in tasks:
            m = r["tasks"].get(t, {}).get(get_task(t).primary_metric)
            cells.append(f"{m['value']:.3g} [{m['low']:.3g}, {m['high']:.3g}]" if m else "–")
        clean = " / ".join(f"{r['clean_mae'].get(t, float('nan')):.2f}" for t in TARGETS)
        dm = r.get("delta_m_pct")
        lines.append(
            f"| {r['model']} | {r.get('parameters', '–')} | {r.get('inference_ms_per_window', '–')} | "
            f"{r.get('train_windows_per_s', '–')} | {'–' if dm is None else dm} | "
            + " | ".join(cells)
            + f" | {clean} |"
        )
    lines += [
        "",
        "Δm: mean relative change of each task's primary metric against its single-task model;"
        " negative is better.",
    ]
    return "\n".join(lines)


def targets_check(summary: dict[str, Any]) -> dict[str, Any]:
    rows = {r["model"]: r for r in summary["rows"]}
    best = min(
        (r for r in summary["rows"] if r["model"].startswith("mtl-") and "resnet" not in r["model"]),
        key=lambda r: r["delta_m_pct"],
    )
    singles = summary["singles"]
    beats = [
        t
        for t in TASK_NAMES
        if (primary_of(best, t) - primary(singles[t], t)) * (1 if get_task(t).higher_is_better else -1) > 0
    ]
    af_single = primary(singles["af"], "af")
    return {
        "best_multitask_model": best["model"],
        "parameter_saving_pct": round(
            100 * (1 - rows["mtl-fixed"]["parameters"] / summary["single_task_parameters_total"]), 1
        ),
        "tasks_where_best_beats_single": beats,
        "af_auroc_best_vs_single": [primary_of(best, "af"), af_single],
        "clean_mae_best": best["clean_mae"],
        "inference_ratio_vs_one_single": round(
            rows["mtl-fixed"]["inference_ms_per_window"] / summary["single_task_inference_ms_mean"], 2
        ),
    }


def primary_of(row: dict[str, Any], task: str) -> float:
    return row["tasks"][task][get_task(task).primary_metric]["value"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="smaller data and fewer epochs: a few minutes on 2 cores"
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    mode = MODES["quick" if args.quick else "full"]
    torch.set_num_threads(2)
    started = time.perf_counter()
    parts, test_table = benchmark_data(mode["batches"], mode["windows"])
    runs = run_models(mode, parts, args.device)
    summary = summarise(runs, dsp_report(test_table, parts))
    gpu = None
    if args.device == "cpu" and torch.cuda.is_available():
        gpu = train_one("mtl-fixed-cuda", {}, {"name": "fixed"}, mode["epochs"], parts, "cuda")[
            "train_windows_per_s"
        ]
    name = "mtl-quick" if args.quick else "mtl"
    splits = {k: len(v) for k, v in parts.items()}
    title = (
        f"Multi-task benchmark ({'quick' if args.quick else 'full'}): seed {SEED},"
        f" windows train/val/test {splits}, "
        f"{mode['epochs']} epochs max, CPU (2 threads); 95% CIs from a bootstrap over test subjects."
    )
    md = markdown(summary, title)
    checks = targets_check(summary)
    md += "\n\nTargets: " + ", ".join(f"{k} = {v}" for k, v in checks.items())
    md += f"\n\nGPU training throughput (mtl-fixed): {gpu if gpu else 'no CUDA device on this machine'}"
    payload = {k: v for k, v in summary.items() if k != "singles"}
    write_results(
        name,
        {
            "mode": mode,
            "seed": SEED,
            "splits": splits,
            "targets": checks,
            "gpu_train_windows_per_s": gpu,
            "wall_seconds": round(time.perf_counter() - started, 1),
            **payload,
        },
        md,
    )


if __name__ == "__main__":
    main()
