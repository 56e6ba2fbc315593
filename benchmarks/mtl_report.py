"""Summaries of the multi-task benchmark across seeds: mean +- SD next to the intervals, delta_m against the
single-task models with the tasks no model learns left out (and why), the targets, and the Markdown.

delta_m (%) = mean over tasks of (-1)^h_t (M_model,t - M_single,t) / M_single,t x 100, with h_t = 1 when
the task's primary metric is higher-is-better (AF AUROC); negative is better than single-task (Navon et
al., 2022 convention). A seed's single-task model that did no better than a constant (the training
mean; chance for AF) is degenerate: that seed's delta_m leaves the task out rather than credit the
multi-task model for beating it. A regression task that no trained model predicts better than the
constant is shown with that reason and left out of delta_m altogether.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ppg_models.tasks import TASK_NAMES, get_task

DSP_TASKS = ("hr", "spo2", "rr", "af")
PARAMETER_RATIO, INFERENCE_RATIO, AF_MARGIN, AF_HALF_WIDTH = 0.5, 1.3, -0.01, 0.03


def _primary(row: dict[str, Any], task: str, key: str = "value") -> float:
    entry = row["tasks"].get(task, {}).get(get_task(task).primary_metric)
    v = None if entry is None else entry.get(key)
    return float("nan") if v is None else float(v)


def _better(a: float, b: float, task: str) -> bool:
    return a > b if get_task(task).higher_is_better else a < b


def _stats(values: list[float]) -> dict[str, Any]:
    v = np.array([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if not v.size:
        return {"mean": None, "sd": None, "per_seed": values}
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if v.size > 1 else 0.0, "per_seed": values}


def _rows(per_seed: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [next(r for r in s["rows"] if r["name"] == name) for s in per_seed]


def learnable_tasks(per_seed: list[dict[str, Any]], names: list[str]) -> tuple[list[str], dict[str, str]]:
    """Tasks some trained model beats the constant on (mean over seeds), and why the others are out."""
    keep, dropped = [], {}
    for task in TASK_NAMES:
        if get_task(task).kind != "regression":
            keep.append(task)
            continue
        const = np.mean([_primary(r, task) for r in _rows(per_seed, "constant")])
        having = [n for n in names if task in _rows(per_seed, n)[0]["tasks"]]
        best = min(np.mean([_primary(r, task) for r in _rows(per_seed, n)]) for n in having)
        if best < const:
            keep.append(task)
        else:
            dropped[task] = f"no model beats the constant: best {best:.3g} vs constant {const:.3g}"
    return keep, dropped


def degenerate(seed: dict[str, Any]) -> list[str]:
    """Tasks whose single-task model in this seed did no better than a constant: the training mean for a
    regression task, chance (AUROC 0.5) for AF. Comparing with it would flatter the multi-task model."""
    rows = {r["name"]: r for r in seed["rows"]}
    out = []
    for t in TASK_NAMES:
        single = _primary(rows[f"single-{t}"], t)
        floor = 0.5 if get_task(t).kind == "binary" else _primary(rows["constant"], t)
        if not _better(single, floor, t):
            out.append(t)
    return out


def delta_m(row: dict[str, Any], seed: dict[str, Any], tasks: list[str]) -> float:
    """Against the seed's single-task models, leaving out the tasks where that model was degenerate."""
    singles = {r["name"].removeprefix("single-"): r for r in seed["rows"] if r["name"].startswith("single-")}
    terms = []
    for t in (t for t in tasks if t not in degenerate(seed)):
        ours, base = _primary(row, t), _primary(singles[t], t)
        sign = -1.0 if get_task(t).higher_is_better else 1.0
        terms.append(sign * (ours - base) / base * 100)
    return float(np.mean(terms))


def summarise(per_seed: list[dict[str, Any]], inference_ms: dict[str, float]) -> dict[str, Any]:
    names = [r["name"] for r in per_seed[0]["rows"]]
    trained = [n for n in names if n not in ("constant", "dsp-baselines")]
    multi = [n for n in trained if not n.startswith("single-")]
    tasks, dropped = learnable_tasks(per_seed, trained)
    models: dict[str, Any] = {}
    for name in names:
        rows = _rows(per_seed, name)
        entry: dict[str, Any] = {"tasks": {}}
        for task in TASK_NAMES:
            if task in rows[0]["tasks"]:
                entry["tasks"][task] = {
                    key: _stats([_primary(r, task, key) for r in rows]) for key in ("value", "low", "high")
                }
        for key in ("parameters", "train_windows_per_s", "epochs_run"):
            if key in rows[0]:
                entry[key] = _stats([r[key] for r in rows])
        if name in inference_ms:
            entry["inference_ms_per_window"] = {"mean": inference_ms[name]}
        if name in multi:
            entry["delta_m_pct"] = _stats(
                [delta_m(r, seed, tasks) for r, seed in zip(rows, per_seed, strict=True)]
            )
        if "af_auroc_vs_single" in rows[0]:
            entry["af_auroc_vs_single"] = {
                key: _stats([r["af_auroc_vs_single"][key] for r in rows]) for key in ("value", "low", "high")
            }
        models[name] = entry
    return {
        "models": models,
        "delta_m_tasks": tasks,
        "left_out_of_delta_m": dropped,
        "degenerate_single_task": {s["seed"]: bad for s in per_seed if (bad := degenerate(s))},
        "targets": targets(models, multi),
    }


def _chosen(models: dict[str, Any], multi: list[str], single_params: float) -> tuple[str, str]:
    def feasible(n: str) -> bool:
        m = models[n]
        return (
            m["parameters"]["mean"] <= PARAMETER_RATIO * single_params
            and min(m["af_auroc_vs_single"]["low"]["per_seed"]) >= AF_MARGIN
        )

    ok = [n for n in multi if feasible(n)]
    pool = ok or multi
    best = min(pool, key=lambda n: models[n]["delta_m_pct"]["mean"])
    rule = (
        "lowest mean delta_m among rows within the parameter budget whose AF paired lower bound is"
        " >= -0.01 in every seed"
    )
    return best, rule if ok else "no row meets the parameter and AF rules: lowest mean delta_m shown"


def targets(models: dict[str, Any], multi: list[str]) -> dict[str, Any]:
    singles = [n for n in models if n.startswith("single-")]
    single_params = sum(models[n]["parameters"]["mean"] for n in singles)
    single_infer = float(np.mean([models[n]["inference_ms_per_window"]["mean"] for n in singles]))
    name, rule = _chosen(models, multi, single_params)
    m, dsp = models[name], models["dsp-baselines"]
    af = m["af_auroc_vs_single"]
    half = np.mean(np.subtract(m["tasks"]["af"]["high"]["per_seed"], m["tasks"]["af"]["low"]["per_seed"])) / 2
    beats_dsp = {
        t: _better(m["tasks"][t]["value"]["mean"], dsp["tasks"][t]["value"]["mean"], t) for t in DSP_TASKS
    }
    return {
        "chosen": name,
        "rule": rule,
        "parameter_ratio": round(m["parameters"]["mean"] / single_params, 3),
        "delta_m_pct": m["delta_m_pct"],
        "af_auroc_paired_diff_lowest_lower_bound": min(af["low"]["per_seed"]),
        "af_auroc_ci_half_width": float(half),
        "inference_ratio_vs_one_single": round(m["inference_ms_per_window"]["mean"] / single_infer, 2),
        "beats_dsp_primary": beats_dsp,
        "met": {
            "parameters <= 0.5x singles": m["parameters"]["mean"] <= PARAMETER_RATIO * single_params,
            "delta_m < 0": (m["delta_m_pct"]["mean"] or 0) < 0,
            "AF paired lower bound >= -0.01 (every seed)": min(af["low"]["per_seed"]) >= AF_MARGIN,
            "AF AUROC CI half-width <= 0.03": bool(half <= AF_HALF_WIDTH),
            "inference <= 1.3x one single": m["inference_ms_per_window"]["mean"]
            <= INFERENCE_RATIO * single_infer,
            "better than DSP on every task": all(beats_dsp.values()),
        },
    }


def thread_check_summary(threads: dict[int, dict[str, float]]) -> dict[str, Any]:
    d_af, d_hr = abs(threads[1]["af"] - threads[2]["af"]), abs(threads[1]["hr"] - threads[2]["hr"])
    return {
        "threads": threads,
        "af_auroc_diff": d_af,
        "hr_mae_diff": d_hr,
        "met": bool(d_af <= 0.01 and d_hr <= 0.1),
    }


def _cell(stats: dict[str, Any], digits: int = 3) -> str:
    v, lo, hi = (stats[k]["mean"] for k in ("value", "low", "high"))
    if v is None:
        return "–"
    text = f"{v:.{digits}g} ± {stats['value']['sd']:.2g}"
    return text + (f" [{lo:.{digits}g}, {hi:.{digits}g}]" if lo is not None and hi is not None else " [n/a]")


def _seed_count(payload: dict[str, Any]) -> str:
    have, want = [s["seed"] for s in payload["per_seed"]], payload["settings"]["seeds"]
    if len(have) >= want:
        return f"{len(have)} seeds ({', '.join(map(str, have))})."
    return (
        f"**INCOMPLETE: {len(have)} of the {want} seeds** ({', '.join(map(str, have))}); the other seeds"
        " have not been measured on this code, so the SDs below are not the benchmark's and the targets"
        " are not judged on them."
    )


def markdown(payload: dict[str, Any]) -> str:
    s, settings = payload["summary"], payload["settings"]
    first = payload["per_seed"][0]
    kind = (
        "SMOKE RUN (--quick: tiny data, 3 epochs; the figures say nothing about model quality)"
        if payload["smoke_run"]
        else "full run"
    )
    lines = [
        f"# Multi-task benchmark: {kind}",
        "",
        _seed_count(payload),
        "",
        f"Seeds vary the split and initialisation; {settings['epochs']} epochs max,"
        f" patience {settings['patience']}, {settings['epoch_windows']} windows per epoch,"
        f" {payload['device']};"
        f" windows per part (seed {first['seed']}) {first['windows']}, subjects {first['subjects']},"
        f" AF-positive subjects {first['af_positive_subjects']}. Cells: mean ± SD over seeds [mean of the"
        " seeds' 95 % subject-bootstrap interval bounds].",
        "",
        "| model | params | Δm % | "
        + " | ".join(f"{t} {get_task(t).primary_metric}" for t in TASK_NAMES)
        + " | AF AUROC − single (paired) | epochs run |",
        "|---" * (5 + len(TASK_NAMES)) + "|",
    ]
    for name, m in s["models"].items():
        dm = m.get("delta_m_pct", {}).get("mean")
        af = m.get("af_auroc_vs_single")
        lines.append(
            f"| {name} | {int(m['parameters']['mean']) if 'parameters' in m else '–'} | "
            + ("–" if dm is None else f"{dm:+.1f} ± {m['delta_m_pct']['sd']:.1f}")
            + " | "
            + " | ".join(_cell(m["tasks"][t]) if t in m["tasks"] else "–" for t in TASK_NAMES)
            + f" | {_cell(af) if af else '–'} | "
            + (f"{m['epochs_run']['mean']:.0f}" if "epochs_run" in m else "–")
            + " |"
        )
    lines += ["", f"Δm over {', '.join(s['delta_m_tasks'])}; negative is better than the single-task models."]
    for task, why in s["left_out_of_delta_m"].items():
        lines.append(f"- {task} left out of Δm: {why}.")
    for seed, tasks in s["degenerate_single_task"].items():
        lines.append(
            f"- seed {seed}: the single-task {', '.join(tasks)} model did no better than a constant (the"
            " training mean; chance for AF); that seed's Δm leaves the task out, and its AF paired"
            " difference is against that model."
        )
    t = s["targets"]
    provisional = len(payload["per_seed"]) < settings["seeds"]
    lines += ["", f"Chosen multi-task model: **{t['chosen']}** ({t['rule']})."]
    if provisional:
        lines.append("Provisional: judged on an incomplete set of seeds (see above).")
    for k in (
        "parameter_ratio",
        "af_auroc_paired_diff_lowest_lower_bound",
        "af_auroc_ci_half_width",
        "inference_ratio_vs_one_single",
    ):
        lines.append(f"- {k}: {t[k]:.3g}")
    lines += [f"- {k}: {'met' if v else 'NOT met'}" for k, v in t["met"].items()]
    tc = payload["thread_check"]
    if tc is None:
        lines.append("- 1 vs 2 threads (equal weights, 2 epochs): not measured on this model code")
    else:
        lines.append(
            f"- 1 vs 2 threads (equal weights, 2 epochs): AF AUROC differs by {tc['af_auroc_diff']:.4f},"
            f" HR MAE by {tc['hr_mae_diff']:.3f} bpm: {'met' if tc['met'] else 'NOT met'}"
        )
    timing = []
    if payload.get("wall_seconds"):
        timing.append(f"Wall time {payload['wall_seconds'] / 60:.1f} min.")
    if payload.get("seed_seconds"):
        timing.append(f"Training, summed over the seeds: {payload['seed_seconds'] / 60:.1f} min.")
    elif payload.get("wall_seconds") is None:
        timing.append("Wall time not recorded: summarised from kept seeds that predate per-seed timing.")
    lines.append("\n" + " ".join(timing))
    return "\n".join(lines)
