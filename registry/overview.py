"""Versions side by side: per-task metrics with intervals, status, aliases, who trained and approved.

Status, verdict and trainer come from the registry database (the truth), not from MLflow's tags."""

from __future__ import annotations

from typing import Any

from ppg_models.evaluation.report import format_interval
from ppg_models.tasks import TASKS, get_task
from registry.review import version_table
from registry.versions import load_report, resolve


def _cell(row: dict[str, Any], task: str) -> dict[str, float | None] | None:
    def finite(x: Any) -> float | None:
        return None if x is None or x != x else float(x)  # NaN: no value

    if finite(row[task]) is None:
        return None
    return {"value": row[task], "low": finite(row[f"{task}.low"]), "high": finite(row[f"{task}.high"])}


def list_versions() -> list[dict[str, Any]]:
    """One row per version, oldest first: status, aliases, provenance and each task's primary metric with
    its CI (the dashboard's batched table, ``registry.review.version_table``)."""
    rows = []
    for r in reversed(version_table().to_dict("records")):
        rows.append(
            {
                "version": str(r["version"]),
                "alias": r["alias"] or None,
                "status": r["status"]
                if r["status"] != "unrecorded"
                else "unrecorded (no registration record)",
                "gate": None if r["gate"] == "not judged" else r["gate"],
                "policy_version": int(r["policy"].removeprefix("v")) if r["policy"] else None,
                "trained_by": r["trained_by"] or None,
                "approved_by": r["approved_by"] or None,
                "dataset": r["dataset"] or None,
                "balancer": r["balancer"] or None,
                "primary": {t.name: _cell(r, t.name) for t in TASKS},
            }
        )
    return rows


def compare(ref_a: str, ref_b: str) -> dict[str, Any]:
    """Every metric of every task for two versions, with intervals, from their evaluation reports."""
    a, b = resolve(ref_a), resolve(ref_b)
    ra, rb = load_report(a), load_report(b)
    tasks = []
    for task in [t.name for t in TASKS if t.name in ra.tasks or t.name in rb.tasks]:
        spec = get_task(task)
        for metric in spec.metrics:
            cells = []
            for report in (ra, rb):
                result = report.tasks.get(task)
                iv = result.metrics.get(metric) if result else None
                cells.append(None if iv is None else {"value": iv.value, "low": iv.low, "high": iv.high})
            primary = metric == spec.primary_metric
            row = {"task": task, "unit": spec.unit, "metric": metric, "primary": primary}
            tasks.append(row | {"a": cells[0], "b": cells[1], "n_a": _n(ra, task), "n_b": _n(rb, task)})
    return {"a": str(a.version), "b": str(b.version), "same_windows": _same_windows(ra, rb), "rows": tasks}


def _n(report, task: str) -> int:
    return report.tasks[task].n_windows if task in report.tasks else 0


def _same_windows(ra, rb) -> bool:
    return set(ra.predictions["window_id"]) == set(rb.predictions["window_id"])


def fmt(cell: dict[str, float] | None) -> str:
    if not cell:
        return "n/a"
    return format_interval(cell["value"], cell.get("low"), cell.get("high"))


def comparison_lines(result: dict[str, Any]) -> list[str]:
    """``compare``'s result as a Markdown table, one row per task and metric, with units and n."""
    lines = [f"| task | metric | v{result['a']} | v{result['b']} |", "|---|---|---|---|"]
    for r in result["rows"]:
        mark = " (primary)" if r["primary"] else ""
        unit = f" ({r['unit']})" if r["unit"] else ""
        lines.append(
            f"| {r['task']} | {r['metric']}{unit}{mark} | {fmt(r['a'])} (n={r['n_a']})"
            f" | {fmt(r['b'])} (n={r['n_b']}) |"
        )
    return lines
