"""Robustness to device exports: the model and the DSP baseline on held-out subjects, per export.

Run: .venv/bin/python benchmarks/robustness.py [--quick] [--epochs N] [--seeds N] [--channel-drop P]
Writes benchmarks/results/robustness.json and .md (robustness-quick.* with --quick).

A multi-task model (HR, SpO2, RR, AF) is trained on simulated windows of all sources, a share of them
replaced by export transforms (``data.augment``, the training default). Test subjects come from
another simulation seed (no subject in common). Every transform of ``ppg_models.data.exports`` is then
applied to the untouched test windows (AC-coupled zero-mean, x1000 gain, inverted, baseline wander,
12-bit quantised, 100/117/128/256/500 Hz, IR only, green only, and monitor_pleth: IR only,
AC-coupled and inverted at once, as monitors and waveform databases store PLETH) and both the model
and the DSP baseline are scored on the labels: HR, RR and SpO2 MAE (SpO2 only where the export keeps
a physical level, so its n drops to 0 for AC-coupled exports: withheld by design), AF AUROC. Per
transform the relative change of HR and RR MAE against the untransformed windows is reported with the
targets (within 10 %; model HR MAE <= DSP HR MAE), and HR MAE on windows at 160-220 bpm. Evidence
counts are windows and subjects.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_io import write_results

from ppg_models.baselines.run import estimate_vitals
from ppg_models.data.exports import EXPORTS, apply_export, augment
from ppg_models.evaluation.metrics import METRICS
from ppg_models.models.inputs import prepare_inputs
from ppg_models.sim.simulate import simulate_batch
from ppg_models.training.config import DataConfig, TrainConfig
from ppg_models.training.data import split_by_subject, windows_from_table
from ppg_models.training.trainer import train

TASKS = ("hr", "spo2", "rr", "af")
SOURCES = ("icu", "wearable", "sleep-lab")
MOTION = ("none", "low", "high")  # the simulator's motion levels: walking (high) swings in the cardiac band
DEFAULT_DROP = DataConfig.model_fields["channel_drop"].default  # training's default
MODES = {
    "quick": {
        "train_windows": 400,
        "test_windows": 150,
        "epochs": 3,
        "head_epochs": 1,
        "widths": [16, 16, 32, 32],
    },
    "full": {
        "train_windows": 800,
        "test_windows": 400,
        "epochs": 10,
        "head_epochs": 8,
        "widths": [24, 32, 48, 64],
    },
}


def _tables(seed: int, per_source: int) -> pa.Table:
    return pa.concat_tables([simulate_batch(s, seed, i, per_source) for i, s in enumerate(SOURCES)])


def train_model(mode: dict, epochs: int, share: float, seed: int = 0, channel_drop: float = DEFAULT_DROP):
    """The model of one seed: the seed draws the validation subjects, the augmentation and the
    initialisation; the training subjects' simulation is the same for every seed."""
    torch.manual_seed(seed)
    table = _tables(11, mode["train_windows"])
    windows = windows_from_table(augment(table, share, seed=11 + seed) if share else table)
    parts = split_by_subject(windows.meta["subject_id"].tolist(), (0.85, 0.15, 0.0), seed=seed)
    cfg = TrainConfig.from_dict(
        {
            "data": {"paths": ["in-memory"], "channel_drop": channel_drop},
            "model": {"tasks": list(TASKS), "backbone_params": {"widths": mode["widths"], "stem_width": 16}},
            "optim": {
                "epochs": epochs,
                "batch_size": 64,
                "patience": 4,
                "head_tuning": {"epochs": mode["head_epochs"], "patience": 3},  # the recommended recipe
            },
            "seed": seed,
        }
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = train(
            cfg, windows.subset(parts["train"]), windows.subset(parts["val"]), Path(tmp), resume=False
        )
    return result.model, time.perf_counter() - started, len(parts["train"]), result.best_epoch


def _score(task: str, labels: np.ndarray, estimates: np.ndarray, subjects: np.ndarray) -> dict:
    ok = np.isfinite(labels) & np.isfinite(estimates)
    metric = "auroc" if task == "af" else "mae"
    if task == "af" and (ok.sum() == 0 or len(np.unique(labels[ok])) < 2):
        return {"metric": metric, "value": None, "n_windows": int(ok.sum()), "n_subjects": 0}
    value = float(METRICS[metric](labels[ok], estimates[ok], np.ones((1, ok.sum())))[0]) if ok.any() else None
    return {
        "metric": metric,
        "value": value,
        "n_windows": int(ok.sum()),
        "n_subjects": len(set(subjects[ok])),
    }


def evaluate_export(model, test: pa.Table, name: str, base: dict | None = None) -> dict:
    """Scores of the model and the DSP baseline on ``test`` as export ``name`` delivers it. With the
    untransformed estimates ``base``, the HR and RR change is measured on the same windows (an export
    that drops windows, like green only, is compared with the untransformed error on those windows)."""
    table = test if name == "none" else apply_export(test, name, seed=5)
    labels = {t: test.column(t).to_numpy(zero_copy_only=False).astype(float) for t in TASKS}
    subjects = np.asarray(test.column("subject_id").to_pylist())
    estimates = {"model": model.predict(prepare_inputs(table)), "dsp": estimate_vitals(table)}
    out: dict = {"estimates": {}}
    for who, est in estimates.items():
        values = {t: np.asarray(est[t], dtype=float) for t in TASKS}
        out["estimates"][who] = values
        out[who] = {t: _score(t, labels[t], values[t], subjects) for t in TASKS}
        if base is not None:
            for task in ("hr", "rr"):
                same = np.isfinite(values[task]) & np.isfinite(base["estimates"][who][task])
                now = _score(task, labels[task][same], values[task][same], subjects[same])["value"]
                before = _score(task, labels[task][same], base["estimates"][who][task][same], subjects[same])[
                    "value"
                ]
                out[who][f"{task}_change"] = _relative(now, before)
    return out


def fast_windows(per_batch: int) -> pa.Table:
    """Held-out windows at 160-220 bpm: the tachycardia cohort of further test batches (same seed)."""
    tables = [simulate_batch(s, 9090, b, per_batch) for b in range(3, 9) for s in SOURCES]
    table = pa.concat_tables(tables)
    hr = table.column("hr").to_numpy(zero_copy_only=False)
    return table.filter(pa.array((hr >= 160) & (hr <= 220)))


def by_motion(labels: np.ndarray, estimates: dict[str, np.ndarray], table: pa.Table) -> dict:
    """HR scores of each estimator per motion level of the windows (none, low, high)."""
    motion = np.asarray(table.column("motion").to_pylist())
    subjects = np.asarray(table.column("subject_id").to_pylist())
    return {
        who: {m: _score("hr", labels[motion == m], est[motion == m], subjects[motion == m]) for m in MOTION}
        for who, est in estimates.items()
    }


def _relative(value: float | None, base: float | None) -> float | None:
    return None if value is None or not base else (value - base) / base


def markdown(payload: dict) -> str:
    rows = payload["exports"]
    lines = [
        f"# Robustness to device exports ({payload['mode']})",
        "",
        f"Model: multi-task HR/SpO2/RR/AF ResNet, {payload['epochs']} epochs (best"
        f" {', '.join(map(str, payload['best_epoch']))}) then head tuning, on {payload['train_windows']}"
        f" windows, {payload['augment']:.0%} augmented, {payload.get('channel_drop', 0):.0%} reduced to one"
        f" channel at each step, {payload['train_seconds']:.0f} s on CPU per model;"
        f" {len(payload['seeds'])} seeds (validation subjects, augmentation, initialisation), mean ± SD."
        f" Test: {payload['test_windows']} windows of {payload['test_subjects']} subjects never seen in"
        " training. MAE for HR (bpm), RR (breaths/min), SpO2 (%); AUROC for AF; n = windows. The DSP"
        " baseline does not depend on the seed.",
        "",
        "| export | HR model | HR DSP | RR model | RR DSP | SpO2 model (n) | SpO2 DSP | AF model | AF DSP |"
        " HR change | RR change | HR model <= DSP |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def fmt(cell: dict, n: bool = False) -> str:
        if cell["value"] is None:
            return f"n/a ({cell['n_windows']})" if n else "n/a"
        sd = f" ± {cell['sd']:.2f}" if (cell.get("sd") or 0) >= 0.005 else ""  # the DSP has no seed
        return f"{cell['value']:.2f}{sd}" + (f" ({cell['n_windows']})" if n else "")

    for name, r in rows.items():
        hr_change, rr_change = r["model"].get("hr_change", 0.0), r["model"].get("rr_change", 0.0)
        better = (r["model"]["hr"]["value"] or np.inf) <= (r["dsp"]["hr"]["value"] or np.inf)
        change = [
            "-"
            if c is None
            else f"{c:+.0%}" + (" ok (better)" if c < -0.10 else " ok" if c <= 0.10 else " MISSED")
            for c in (hr_change, rr_change)
        ]
        lines.append(
            f"| {name} | {fmt(r['model']['hr'])} | {fmt(r['dsp']['hr'])} | {fmt(r['model']['rr'])} |"
            f" {fmt(r['dsp']['rr'])} | {fmt(r['model']['spo2'], True)} | {fmt(r['dsp']['spo2'])} |"
            f" {fmt(r['model']['af'])} | {fmt(r['dsp']['af'])} | {change[0]} | {change[1]} |"
            f" {'yes' if better else 'NO'} |"
        )
    fast = payload["tachycardia_160_220"]["model"]
    dsp_fast = payload["tachycardia_160_220"]["dsp"]
    lines += [
        "",
        f"HR at 160-220 bpm (held-out tachycardia windows, untransformed): model MAE {fmt(fast)} bpm,"
        f" DSP {fmt(dsp_fast)} bpm,"
        f" n = {fast['n_windows']} windows / {fast['n_subjects']} subjects (target: model <= 3 bpm).",
        "",
        "HR MAE (bpm) by motion level, model / DSP (windows, subjects). High motion is walking: the arm"
        " swings at 1.3-2.6 Hz, inside the cardiac band, and no quality check catches it (no accelerometer).",
        "",
        "| windows | " + " | ".join(MOTION) + " |",
        "|---|" + "---|" * len(MOTION),
        *[
            f"| {part} | "
            + " | ".join(
                f"{fmt(cells['model'][m])} / {fmt(cells['dsp'][m])}"
                f" ({cells['model'][m]['n_windows']}, {cells['model'][m]['n_subjects']})"
                for m in MOTION
            )
            + " |"
            for part, cells in payload["hr_by_motion"].items()
        ],
        "",
        "Targets: every export within 10 % of the untransformed HR and RR error; model HR no worse than the"
        " DSP baseline under every export. The change columns compare each export with the untransformed"
        " windows on the same windows: 'only_green' has no green channel on ICU and sleep-lab windows, so it"
        " is scored on the wearable's windows alone.",
    ]
    return "\n".join(lines)


def one_seed(
    mode: dict, epochs: int, share: float, drop: float, seed: int, test: pa.Table, fast: pa.Table
) -> dict:
    model, seconds, n_train, best = train_model(mode, epochs, share, seed, drop)
    base = evaluate_export(model, test, "none")
    exports = {"none": base}
    for export in EXPORTS:
        exports[export] = evaluate_export(model, test, export, base)
    hr_labels = test.column("hr").to_numpy(zero_copy_only=False).astype(float)
    motion = by_motion(hr_labels, {who: base["estimates"][who]["hr"] for who in ("model", "dsp")}, test)
    for row in exports.values():
        row.pop("estimates")
    fast_est = {"model": model.predict(prepare_inputs(fast))["hr"].astype(float),
                "dsp": estimate_vitals(fast)["hr"].to_numpy(float)}  # fmt: skip
    fast_labels = fast.column("hr").to_numpy(zero_copy_only=False).astype(float)
    fast_subjects = np.asarray(fast.column("subject_id").to_pylist())
    tachycardia = {who: _score("hr", fast_labels, est, fast_subjects) for who, est in fast_est.items()}
    motion_fast = by_motion(fast_labels, fast_est, fast)
    print(f"seed {seed}: trained {seconds:.0f} s, HR MAE {exports['none']['model']['hr']['value']:.2f}",
          file=sys.stderr)  # fmt: skip
    return {"seed": seed, "best_epoch": best, "train_windows": n_train, "train_seconds": seconds,
            "exports": exports, "tachycardia_160_220": tachycardia,
            "hr_by_motion": {"test": motion, "tachycardia_160_220": motion_fast}}  # fmt: skip


def _merge(cells: list[dict]) -> dict:
    """One table cell over seeds: the mean, its SD and every seed's value (changes: the mean change)."""
    if not isinstance(cells[0], dict):
        values = [c for c in cells if c is not None]
        return float(np.mean(values)) if values else None
    values = [c["value"] for c in cells if c["value"] is not None]
    return {
        **cells[0],
        "value": float(np.mean(values)) if values else None,
        "sd": float(np.std(values, ddof=1)) if len(values) > 1 else None,
        "values": [c["value"] for c in cells],
    }


def merge_seeds(per_seed: list[dict]) -> dict:
    exports = {}
    for name, first in per_seed[0]["exports"].items():
        exports[name] = {
            who: {key: _merge([s["exports"][name][who][key] for s in per_seed]) for key in first[who]}
            for who in ("model", "dsp")
        }
    tachycardia = {who: _merge([s["tachycardia_160_220"][who] for s in per_seed]) for who in ("model", "dsp")}
    motion = {
        part: {
            who: {m: _merge([s["hr_by_motion"][part][who][m] for s in per_seed]) for m in MOTION}
            for who in ("model", "dsp")
        }
        for part in per_seed[0]["hr_by_motion"]
    }
    return {"exports": exports, "tachycardia_160_220": tachycardia, "hr_by_motion": motion}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="A smoke run: small model and data.")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seeds", type=int, default=None, help="Models trained (default: 3; quick: 1).")
    parser.add_argument("--augment", type=float, default=0.4, help="Share of training windows augmented.")
    parser.add_argument(
        "--channel-drop",
        type=float,
        default=DEFAULT_DROP,
        help="Share of training windows reduced to one channel at each step (default: training's).",
    )
    parser.add_argument("--name", default=None, help="Results name (default: robustness[-quick]).")
    parser.add_argument(
        "--train-windows", type=int, default=None, help="Training windows per source (full: 800)."
    )
    args = parser.parse_args()
    name = "quick" if args.quick else "full"
    mode = MODES[name] | ({"train_windows": args.train_windows} if args.train_windows else {})
    torch.set_num_threads(1)
    epochs = args.epochs or mode["epochs"]
    seeds = list(range(args.seeds or (1 if args.quick else 3)))
    test = _tables(9090, mode["test_windows"])
    fast = fast_windows(mode["test_windows"])
    per_seed = [one_seed(mode, epochs, args.augment, args.channel_drop, seed, test, fast) for seed in seeds]
    payload = {
        "mode": name,
        "epochs": epochs,
        "seeds": seeds,
        "best_epoch": [s["best_epoch"] for s in per_seed],
        "train_windows": per_seed[0]["train_windows"],
        "augment": args.augment,
        "channel_drop": args.channel_drop,
        "train_seconds": float(np.mean([s["train_seconds"] for s in per_seed])),
        "test_windows": test.num_rows,
        "test_subjects": len(set(test.column("subject_id").to_pylist())),
        **merge_seeds(per_seed),
        "per_seed": per_seed,
    }
    if args.quick:
        print("quick run: a smoke test of the benchmark, not a measurement")
    write_results(
        args.name or ("robustness-quick" if args.quick else "robustness"), payload, markdown(payload)
    )


if __name__ == "__main__":
    main()
