"""Summary and Markdown of the search-vs-sweep benchmark (``tune.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from results_io import CODE, short


def _mean_sd(values: list[float]) -> str:
    values = [v for v in values if v is not None and np.isfinite(v)]
    if not values:
        return "n/a"
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1) if len(values) > 1 else 0:.3f}"


def summarise(per_seed: list[dict[str, Any]], share: float) -> dict[str, Any]:
    found = [s["found"] for s in per_seed]
    epochs = [s["compute_share"]["trial_epochs"] for s in per_seed]
    walls = [s["compute_share"]["wall"] for s in per_seed]
    rho = {
        key: [s["affinity_rank_correlation"].get(key, {}).get("rho", np.nan) for s in per_seed]
        for key in ("fixed", "upgrad", "best")
    }
    return {
        "seeds": len(per_seed),
        "found": int(sum(found)),
        "same_configuration": int(sum(s["same_configuration"] for s in per_seed)),
        "trial_epoch_share": {"mean": float(np.mean(epochs)), "max": float(np.max(epochs))},
        "wall_share": {"mean": float(np.mean(walls)), "max": float(np.max(walls))},
        "affinity_rho": {k: _mean_sd(v) for k, v in rho.items()},
        "target": f"finds the sweep's best (or one within its CI) in every seed with at most {share:.0%} of"
        " its compute",
        "target_met": bool(all(found) and max(epochs) <= share + 1e-9),
        "training_noise": training_noise(per_seed),
    }


def _val(config: dict[str, Any], task: str) -> float:
    """A sweep configuration's validation metric of ``task``."""
    return float(next(v for k, v in config["val"].items() if k.startswith(f"val.{task}.")))


def _replicates(configs: list[dict[str, Any]], task: str) -> dict[tuple[str, str], list[float]]:
    """A task's validation metric per (its group, balancer) over the sweep's configurations. A group
    sits in several partitions; each is the same model of the same tasks retrained, only the run's
    random stream (initialisation order, shuffling) differs; where that stream happens to be the same
    (a group built first), the metric repeats exactly. A singleton's balancer does nothing."""
    out: dict[tuple[str, str], list[float]] = {}
    for c in configs:
        group = next(g for g in c["grouping"].split("|") if task in g.split("+"))
        balancer = c["balancer"] if "+" in group else "-"
        out.setdefault((group, balancer), []).append(_val(c, task))
    return out


def training_noise(per_seed: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per task: how far retraining the same group moves its validation metric (absolute differences
    over every pair of replicates, pooled over seeds), beside the spread of that metric over all the
    sweep's configurations (interquartile range, median over seeds). Where the replicate differences
    are as large as the spread, the sweep's best is mostly the luckiest run, and no search can be
    expected to land on that configuration."""
    out = {}
    for task in per_seed[0]["sweep"]["configs"][0]["grouping"].replace("|", "+").split("+"):
        diffs, iqrs = [], []
        for seed in per_seed:
            configs = seed["sweep"]["configs"]
            for values in _replicates(configs, task).values():
                values = sorted(set(values))  # equal to the last digit: the same run again, not a replicate
                diffs += [abs(a - b) for i, a in enumerate(values) for b in values[i + 1 :]]
            spread = [_val(c, task) for c in configs]
            iqrs.append(float(np.subtract(*np.percentile(spread, [75, 25]))))
        out[task] = {
            "replicate_pairs": len(diffs),
            "replicate_median_abs_diff": float(np.median(diffs)) if diffs else float("nan"),
            "replicate_max_abs_diff": float(np.max(diffs)) if diffs else float("nan"),
            "config_iqr": float(np.median(iqrs)),
        }
    return out


def _config(c: dict[str, Any] | None, tasks: list[str]) -> str:
    if c is None:
        return "none (no feasible trial)"
    metrics = ", ".join(f"{t} {c['test'][t]:.3f}" for t in tasks)
    return f"`{c['grouping']}` {c['balancer']} (test: {metrics})"


def markdown(payload: dict[str, Any]) -> str:
    s, settings = payload["summary"], payload["settings"]
    tasks = settings["tasks"]
    lines = [
        f"# Search vs exhaustive sweep ({payload['mode']})",
        "",
        f"Tasks {', '.join(tasks)}; 15 partitions x balancers {', '.join(settings['balancers'])}; "
        f"{settings['epochs']} epochs of {settings['epoch_windows']} windows per trial; AF floor "
        f"{settings['af_floor']}; warm-up {settings['warmup_epochs']} epoch;"
        f" {settings['jobs']} trials at once. "
        f"Total {payload['wall_s'] / 60:.1f} min.",
        "",
        f"**Target** ({s['target']}): {'met' if s['target_met'] else 'NOT met'}. Found in {s['found']} of"
        f" {s['seeds']} seeds (same configuration in {s['same_configuration']}); compute share: trial-epochs"
        f" {s['trial_epoch_share']['mean']:.3f} (max {s['trial_epoch_share']['max']:.3f}), wall time"
        f" {s['wall_share']['mean']:.3f} (max {s['wall_share']['max']:.3f}).",
        "",
        "Affinity-predicted vs measured grouping quality (Spearman rho, mean ± SD over seeds): "
        + ", ".join(f"{k} {v}" for k, v in s["affinity_rho"].items()),
        "",
        *_noise_lines(s.get("training_noise")),
        "| seed | sweep best | search chose | found | trial-epochs (search/sweep) | wall s (search/sweep) |",
        "|---|---|---|---|---|---|",
    ]
    for seed in payload["seeds"]:
        sw, se = seed["sweep"], seed["search"]
        lines.append(
            f"| {seed['seed']} | {_config(sw['best'], tasks)} | {_config(se['chosen'], tasks)} |"
            f" {'same' if seed['same_configuration'] else ('within CI' if seed['found'] else 'no')} |"
            f" {se['trial_epochs']}/{sw['trial_epochs']} | {se['wall_s']:.0f}/{sw['wall_s']:.0f} |"
        )
    lines += [
        "",
        "Paired test difference, search's choice minus sweep's best (positive = better; 95 % subject"
        " bootstrap):",
        "",
    ]
    for seed in payload["seeds"]:
        cells = [
            f"{t} {_signed(p['value'])} [{_signed(p['low'])}, {_signed(p['high'])}] ({p['subjects']} subj.)"
            for t, p in seed["paired_vs_sweep_best"].items()
        ]
        if seed["same_configuration"]:
            cells = ["the same configuration: no difference"]
        lines.append(f"- seed {seed['seed']}: " + ("; ".join(cells) if cells else "identical or none"))
    return "\n".join([*lines, "", *_provenance(payload)])


def _noise_lines(noise: dict[str, dict[str, float]] | None) -> list[str]:
    if not noise:
        return []
    cells = [
        f"{t} {n['replicate_median_abs_diff']:.3f} (max {n['replicate_max_abs_diff']:.3f}; IQR over"
        f" configurations {n['config_iqr']:.3f})"
        for t, n in noise.items()
    ]
    return [
        "Training noise: the same group with the same balancer sits in several partitions and is"
        " retrained in each (only the random stream differs; exact repeats of one run are not counted)."
        " Median absolute difference between such replicates on validation, pooled over seeds: "
        + "; ".join(cells)
        + ".",
        "",
    ]


def _signed(value: float) -> str:
    return f"{value:+.3f}".replace("-0.000", "+0.000")  # no negative zero


def _provenance(payload: dict[str, Any]) -> list[str]:
    """Which code measured each seed: a seed kept from an earlier run may predate today's code.
    The Markdown is written before ``write_results`` stamps the payload, so a payload without a
    ``code`` entry is this run's: the code checked out when it started."""
    run = (payload.get("code") or CODE).get("commit")
    seeds = {s["seed"]: (s.get("code") or {}).get("commit") for s in payload["seeds"]}
    if all(c == run for c in seeds.values()):
        return []
    cells = [f"seed {k}: {short(c)}" for k, c in seeds.items()]
    return [
        "Seeds kept from earlier runs were measured on other code than this run's"
        f" ({short(run, 'unknown')}): " + "; ".join(cells) + ". `--fresh` measures every"
        " seed again."
    ]
