"""The evaluation report: every task metric with a 95% confidence interval from a bootstrap over
subjects, overall and per subgroup (source, device, skin tone, motion), with sample counts, plus the
paired per-window predictions needed for Bland-Altman plots and for comparing two models.

Evidence is counted in subjects. A binary task (AF) also counts its positive and negative subjects (a
subject is positive when any of its windows is) and resamples them separately, so every resample holds
both classes. Below ``MIN_INTERVAL_SUBJECTS`` subjects (per class for a binary task) a metric keeps its
point value but has no interval, and the result says why it is insufficient: one subject's windows can
never make a zero-width interval.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ppg_models.evaluation.metrics import METRICS
from ppg_models.tasks import get_task

SUBGROUP_ATTRIBUTES = ("source", "device", "skin_tone", "motion")
REPORT_VERSION = 2
MIN_INTERVAL_SUBJECTS = 3


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class TaskResult:
    task: str
    unit: str
    n_windows: int
    n_subjects: int
    metrics: dict[str, Interval]
    n_positive_subjects: int | None = None  # binary tasks: subjects with a positive window
    n_negative_subjects: int | None = None
    insufficient: str = ""  # why there are no intervals ("" when the subjects are enough)


@dataclass(frozen=True)
class SubgroupResult:
    attribute: str
    group: str
    result: TaskResult


@dataclass
class EvaluationReport:
    model: str
    resamples: int
    seed: int
    tasks: dict[str, TaskResult]
    subgroups: list[SubgroupResult]
    predictions: dict[str, list[Any]]  # column -> values: window_id, subject_id, meta, label_<t>, pred_<t>
    created: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    version: int = REPORT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), allow_nan=True))
        return path

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> EvaluationReport:
        def task_result(d: dict[str, Any]) -> TaskResult:
            return TaskResult(**{**d, "metrics": {k: Interval(**v) for k, v in d["metrics"].items()}})

        return cls(
            model=raw["model"],
            resamples=raw["resamples"],
            seed=raw["seed"],
            tasks={t: task_result(v) for t, v in raw["tasks"].items()},
            subgroups=[
                SubgroupResult(s["attribute"], s["group"], task_result(s["result"])) for s in raw["subgroups"]
            ],
            predictions=raw["predictions"],
            created=raw["created"],
            version=raw["version"],
        )

    @classmethod
    def from_json(cls, path: str | Path) -> EvaluationReport:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def predictions_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.predictions)

    def subgroup(self, attribute: str, group: str, task: str) -> TaskResult | None:
        return next(
            (
                s.result
                for s in self.subgroups
                if (s.attribute, s.group, s.result.task) == (attribute, group, task)
            ),
            None,
        )

    def markdown(self) -> str:
        lines = ["| task | n windows (subjects) | metrics, 95% CI over subjects |", "|---|---|---|"]
        for t, r in self.tasks.items():
            if r.n_windows == 0:
                lines.append(f"| {t} | 0 | no labeled test windows |")
                continue
            cells = ", ".join(_cell(m, iv) for m, iv in r.metrics.items())
            if r.insufficient:
                cells += f" (no intervals: {r.insufficient})"
            lines.append(f"| {t} | {r.n_windows} ({r.n_subjects}) | {cells} |")
        return "\n".join(lines)


def _finite(x: float | None) -> bool:
    return x is not None and bool(np.isfinite(x))


def format_interval(value: float | None, low: float | None, high: float | None, digits: int = 3) -> str:
    """How every table shows a metric: "v [low, high]", "v" without an interval, "n/a" without a value."""
    if not _finite(value):
        return "n/a"
    ci = f" [{low:.{digits}g}, {high:.{digits}g}]" if _finite(low) and _finite(high) else ""
    return f"{value:.{digits}g}{ci}"


def _cell(name: str, iv: Interval) -> str:
    return f"{name} {format_interval(iv.value, iv.low, iv.high)}"


def subject_weights(
    codes: np.ndarray, n_subjects: int, resamples: int, seed: int, strata: np.ndarray | None = None
) -> np.ndarray:
    """(resamples, windows): how often each window's subject was drawn in each bootstrap resample.

    With ``strata`` (one label per subject), subjects are drawn within each stratum, as many as it has."""
    rng = np.random.default_rng(seed)
    if strata is None:
        counts = rng.multinomial(n_subjects, np.full(n_subjects, 1.0 / n_subjects), size=resamples)
        return counts[:, codes].astype(np.float64)
    counts = np.zeros((resamples, n_subjects))
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        drawn = rng.multinomial(members.size, np.full(members.size, 1.0 / members.size), size=resamples)
        counts[:, members] = drawn
    return counts[:, codes]


def _positive_subjects(y: np.ndarray, codes: np.ndarray, n_subjects: int) -> np.ndarray:
    """Per subject (local codes): True when any of its windows is positive."""
    positive = np.zeros(n_subjects, bool)
    positive[codes[y == 1]] = True
    return positive


def task_result(
    task: str, y: np.ndarray, p: np.ndarray, subjects: np.ndarray, resamples: int, seed: int
) -> TaskResult:
    """Metrics of one task on the windows given (already restricted to labeled and estimated ones), with a
    bootstrap over their subjects (stratified by class for a binary task)."""
    spec = get_task(task)
    codes, uniques = pd.factorize(pd.Series(subjects, dtype=object))
    n = len(uniques)
    pos = neg = None
    short = ""
    if spec.kind == "binary":
        positive = _positive_subjects(y, codes, n)
        pos, neg = int(positive.sum()), int((~positive).sum())
        if min(pos, neg) < MIN_INTERVAL_SUBJECTS:
            short = (
                f"{pos} AF-positive and {neg} AF-negative subjects (needs {MIN_INTERVAL_SUBJECTS} of each)"
            )
        strata = positive
    else:
        strata = None
    if not short and n < MIN_INTERVAL_SUBJECTS:
        short = f"{n} subject{'s' if n != 1 else ''} (needs {MIN_INTERVAL_SUBJECTS})"
    weights = subject_weights(codes, n, resamples, seed, strata) if y.size and not short else None
    ones = np.ones((1, y.size))
    metrics = {}
    for name in spec.metrics:
        fn = METRICS[name]
        value = float(fn(y, p, ones)[0]) if y.size else float("nan")
        low = high = float("nan")
        if weights is not None:
            boot = fn(y, p, weights)
            finite = boot[np.isfinite(boot)]
            if finite.size:
                low, high = (float(x) for x in np.percentile(finite, [2.5, 97.5]))
        metrics[name] = Interval(value, low, high)
    return TaskResult(task, spec.unit, int(y.size), n, metrics, pos, neg, short)


def evaluate(
    predictions: dict[str, np.ndarray],
    labels: dict[str, np.ndarray],
    meta: pd.DataFrame,
    model: str,
    resamples: int = 200,
    seed: int = 0,
    subgroup_attributes: tuple[str, ...] = SUBGROUP_ATTRIBUTES,
) -> EvaluationReport:
    """Score ``predictions`` against ``labels`` for the windows described by ``meta`` (same order), overall
    and per group of each of ``subgroup_attributes`` (the same bootstrap draws whichever are asked)."""
    subjects = meta["subject_id"].astype(str).to_numpy()
    groups = {a: meta[a].astype(str).to_numpy() for a in subgroup_attributes}
    tasks, subgroups = {}, []
    for task, pred in predictions.items():
        y = labels[task].astype(float)
        ok = ~(np.isnan(y) | np.isnan(pred))
        tasks[task] = task_result(task, y[ok], pred[ok], subjects[ok], resamples, seed)
        for attribute, values in groups.items():
            for group in sorted(set(values[ok])):
                sel = ok & (values == group)
                subgroups.append(
                    SubgroupResult(
                        attribute, group, task_result(task, y[sel], pred[sel], subjects[sel], resamples, seed)
                    )
                )
    columns: dict[str, list[Any]] = {
        c: meta[c].astype(str).tolist() for c in ("window_id", "subject_id", *SUBGROUP_ATTRIBUTES)
    }
    for task, pred in predictions.items():
        columns[f"label_{task}"] = [None if np.isnan(v) else float(v) for v in labels[task]]
        columns[f"pred_{task}"] = [None if np.isnan(v) else float(v) for v in pred]
    return EvaluationReport(model, resamples, seed, tasks, subgroups, columns)
