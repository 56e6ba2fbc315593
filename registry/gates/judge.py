"""The gate: a pure function from evaluation reports and a policy to a verdict. No I/O.

``judge(candidate, policy, champion)`` checks the candidate's metrics against the policy's absolute
thresholds, and, when a champion report on the same evaluation windows is given, runs a paired
bootstrap over subjects of the difference in each task's primary metric: a task fails non-inferiority
when the lower bound of the 95 % interval of the improvement is below minus its margin. The same
checks run per subgroup where the policy asks. Evidence is counted in subjects as well as windows:
too few of either gives "insufficient" (one subject's windows never make a zero-width interval pass).
A required check on a safety-critical task (the catalogue's ``safety_critical``, AF) that is
insufficient always blocks, whatever ``insufficient_blocks`` says.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ppg_models.evaluation.paired import paired_improvement
from ppg_models.evaluation.report import EvaluationReport, TaskResult, format_interval
from ppg_models.tasks import get_task
from registry.gates.policy import Evidence, GatePolicy, Threshold

Outcome = Literal["pass", "fail", "insufficient"]
ALL = "all"


@dataclass(frozen=True)
class CheckLine:
    task: str
    subgroup: str  # "all", or "attribute=value"
    kind: str  # "threshold" | "non_inferiority" | "presence"
    metric: str
    limit: str  # the threshold or margin, in words
    value: float | None
    low: float | None
    high: float | None
    n_windows: int
    required: bool
    outcome: Outcome
    n_subjects: int = 0

    def describe(self) -> str:
        value = format_interval(self.value, self.low, self.high, digits=4)
        need = "required" if self.required else "advisory"
        what = "improvement in " + self.metric if self.kind == "non_inferiority" else self.metric
        return (
            f"{self.outcome.upper():12} {self.task} ({self.subgroup}) {what} = {value},"
            f" n={self.n_windows} windows, {self.n_subjects} subjects; {self.limit} ({need})"
        )


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    lines: tuple[CheckLine, ...]
    policy_sha256: str
    champion: str | None  # model name of the champion report compared against, if any

    @property
    def blocking(self) -> list[CheckLine]:
        return [line for line in self.lines if line.required and line.outcome != "pass"]

    def reasons(self) -> list[str]:
        return [line.describe() for line in self.blocking]

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "policy_sha256": self.policy_sha256,
            "champion": self.champion,
            "lines": [asdict(line) for line in self.lines],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Verdict:
        lines = tuple(CheckLine(**line) for line in raw["lines"])
        return cls(raw["outcome"], lines, raw["policy_sha256"], raw.get("champion"))


def _finite(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _shortfall(n: int, subjects: int, minimum: Evidence) -> str:
    """Why the evidence is too little, in words ("" when it is enough)."""
    need = []
    if n < minimum.windows:
        need.append(f"at least {minimum.windows} windows")
    if subjects < minimum.subjects:
        need.append(f"at least {minimum.subjects} subjects")
    return "; " + " and ".join(need) if need else ""


def _threshold_line(
    task: str, subgroup: str, t: Threshold, result: TaskResult | None, minimum: Evidence
) -> CheckLine:
    iv = result.metrics.get(t.metric) if result else None
    n = result.n_windows if result else 0
    subjects = result.n_subjects if result else 0
    value = _finite(iv.value) if iv else None
    short = _shortfall(n, subjects, minimum)
    if value is None or short:
        outcome: Outcome = "insufficient"
    else:
        ok = (t.min is None or value >= t.min) and (t.max is None or value <= t.max)
        outcome = "pass" if ok else "fail"
    limit = t.describe() + short
    return CheckLine(
        task,
        subgroup,
        "threshold",
        t.metric,
        limit,
        value,
        _finite(iv.low) if iv else None,
        _finite(iv.high) if iv else None,
        n,
        t.required,
        outcome,
        subjects,
    )


def _non_inferiority_line(
    task: str, subgroup: str, cand: pd.DataFrame, champ: pd.DataFrame, policy: GatePolicy, minimum: Evidence
) -> CheckLine:
    gate = policy.tasks[task]
    margin = gate.non_inferiority.margin
    iv, n, subjects = paired_improvement(cand, champ, task, policy.resamples, policy.seed)
    low = _finite(iv.low)
    short = _shortfall(n, subjects, minimum)
    if short or low is None:
        outcome: Outcome = "insufficient"
    else:
        outcome = "pass" if low >= -margin else "fail"
    metric = get_task(task).primary_metric
    limit = f"95% lower bound >= -{margin:g} (not worse than the champion by more than {margin:g})"
    return CheckLine(
        task, subgroup, "non_inferiority", metric, limit + short, _finite(iv.value), low, _finite(iv.high), n,
        gate.non_inferiority.required, outcome, subjects,
    )  # fmt: skip


def _task_lines(
    task: str, candidate: EvaluationReport, champion: EvaluationReport | None, policy: GatePolicy
):
    gate = policy.tasks[task]
    if task not in candidate.tasks:
        required = any(t.required for t in gate.thresholds) or bool(
            gate.non_inferiority and gate.non_inferiority.required
        )
        limit = "the model must estimate this task"
        return [CheckLine(task, ALL, "presence", "-", limit, None, None, None, 0, required, "fail")]
    lines = [_threshold_line(task, ALL, t, candidate.tasks[task], gate.evidence) for t in gate.thresholds]
    if champion is not None and gate.non_inferiority and task in champion.tasks:
        cand, champ = candidate.predictions_frame(), champion.predictions_frame()
        lines.append(_non_inferiority_line(task, ALL, cand, champ, policy, gate.evidence))
    return lines


def _subgroup_lines(candidate: EvaluationReport, champion: EvaluationReport | None, policy: GatePolicy):
    lines = []
    cand_frame = candidate.predictions_frame()
    champ_frame = champion.predictions_frame() if champion is not None else None
    for sub in policy.subgroups:
        for task in sub.tasks:
            if task not in candidate.tasks:
                continue
            gate = policy.tasks[task]
            labeled = cand_frame[cand_frame[f"label_{task}"].notna()]
            for group in sorted(labeled[sub.attribute].astype(str).unique()):
                name = f"{sub.attribute}={group}"
                result = candidate.subgroup(sub.attribute, group, task)
                if sub.thresholds:
                    lines += [_threshold_line(task, name, t, result, sub.evidence) for t in gate.thresholds]
                if sub.non_inferiority and champ_frame is not None and gate.non_inferiority:
                    in_group = cand_frame[cand_frame[sub.attribute].astype(str) == group]
                    lines.append(
                        _non_inferiority_line(task, name, in_group, champ_frame, policy, sub.evidence)
                    )
    return lines


def judge(
    candidate: EvaluationReport, policy: GatePolicy, champion: EvaluationReport | None = None
) -> Verdict:
    """The verdict on ``candidate``; ``champion`` must be the champion's report on the same windows."""
    lines: list[CheckLine] = []
    for task in policy.tasks:
        lines += _task_lines(task, candidate, champion, policy)
    lines += _subgroup_lines(candidate, champion, policy)
    required = [line for line in lines if line.required]
    short = [line for line in required if line.outcome == "insufficient"]
    if any(line.outcome == "fail" for line in required):
        outcome: Outcome = "fail"
    elif any(get_task(line.task).safety_critical for line in short) or (policy.insufficient_blocks and short):
        outcome = "insufficient"
    else:
        outcome = "pass"
    return Verdict(outcome, tuple(lines), policy.sha256(), champion.model if champion else None)
