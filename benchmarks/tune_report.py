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
    }


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
