"""How figures read on the pages: intervals with units, metric names, outcomes and statuses in words."""

from __future__ import annotations

import math

from ppg_models.tasks import get_task

METRIC_WORDS = {
    "mae": "MAE",
    "rmse": "RMSE",
    "bias": "bias",
    "within_5bpm_or_10pct": "share within 5 bpm or 10%",
    "sens_at_spec97": "sensitivity at 97% specificity",
    "arms": "ARMS",
    "mean_error": "mean error",
    "sd_error": "SD of error",
    "auroc": "AUROC",
    "sens_at_spec95": "sensitivity at 95% specificity",
    "f1": "F1",
    "ece": "calibration error (ECE)",
}
OUTCOME_COLOURS = {"pass": "#d8f0d8", "fail": "#f6d3d3", "insufficient": "#fbecc7"}
STATUS_WORDS = {
    "champion": "champion",
    "challenger": "challenger (gates passed, approval pending)",
    "registered": "registered (not judged)",
    "rejected-by-gate": "rejected by gate",
    "insufficient-evidence": "insufficient evidence",
    "retired": "retired",
    "rolled-back": "rolled back",
    "rejected": "rejected",
}


def when(stamp: str) -> str:
    """An ISO time stamp as people read it: 2026-11-22 06:57:58 UTC."""
    return f"{stamp[:19].replace('T', ' ')} UTC" if stamp else ""


def finite(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def number(x, digits: int = 3) -> str:
    return f"{x:.{digits}g}" if finite(x) else "n/a"


def interval(value, low, high, digits: int = 3) -> str:
    if not finite(value):
        return "n/a"
    if not (finite(low) and finite(high)):
        return f"{number(value, digits)} [interval n/a]"
    return f"{number(value, digits)} [{number(low, digits)}, {number(high, digits)}]"


def metric_label(task: str, metric: str) -> str:
    spec = get_task(task)
    unitless = ("auroc", "sens_at_spec95", "sens_at_spec97", "f1", "ece", "within_5bpm_or_10pct")
    unit = "" if metric in unitless or not spec.unit else f" ({spec.unit})"
    return f"{task.upper()} {METRIC_WORDS.get(metric, metric)}{unit}"


def primary_label(task: str) -> str:
    return metric_label(task, get_task(task).primary_metric)
