"""Judge a registered version on evidence the registry computes itself, and store the verdict.

The gate (``registry.gates.judge``) is pure; this module does the I/O around it. The candidate and the
champion are both loaded from the registry (weights hash-checked) and run on the candidate's pinned
evaluation set (``registry.evaluation_set``: window ids of a hash-checked dataset version), so the
report judged is re-derived here, never taken from the training run, and the paired comparison is on
identical windows. The hash of that report goes into the audit entry.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ppg_models.evaluation.report import EvaluationReport, evaluate
from ppg_models.training.data import WindowSet
from registry import evaluation_set, policies
from registry.gates.judge import Verdict, judge
from registry.gates.policy import GatePolicy
from registry.promotion import decided_aliases, record_verdict
from registry.settings import CHAMPION
from registry.users import User
from registry.versions import load_model, resolve


@dataclass(frozen=True)
class GateResult:
    version: str
    verdict: Verdict
    status: str
    champion: str | None
    policy: str  # the policy version judged under, as people read it

    def summary_lines(self) -> list[str]:
        """The verdict as people read it (CLI, demo, dashboard): a header, then one line per check."""
        against = f"champion v{self.champion}" if self.champion else "no champion (absolute thresholds only)"
        head = (
            f"version {self.version}: gate {self.verdict.outcome} -> {self.status}"
            f" ({self.policy}; against {against})"
        )
        return [head, *("  " + line.describe() for line in self.verdict.lines)]


def report_on(version: str, windows: WindowSet, policy: GatePolicy) -> EvaluationReport:
    """A registered version's predictions on ``windows``, scored (its weights hash-checked on load)."""
    model, _ = load_model(version)
    preds = model.predict(windows.inputs())
    return evaluate(
        preds, windows.labels, windows.meta, model=f"v{version}", resamples=policy.resamples, seed=policy.seed
    )


def _stored(report: EvaluationReport, run_id: str, role: str) -> str:
    """Keep a re-derived report's predictions with the version's run; returns their SHA-256 (the hash the
    audit entry records is the hash of exactly this file)."""
    from registry.tracking import client

    text = report.predictions_frame().to_csv(index=False)
    digest = hashlib.sha256(text.encode()).hexdigest()
    client().log_text(run_id, text, f"gate/{role}-predictions-{digest[:12]}.csv")
    return digest


def gate_version(ref: str, user: User) -> GateResult:
    """Judge version ``ref`` under the policy in force against the current champion, as ``user`` (any
    logged-in role), and record the verdict."""
    user.require("gate")
    in_force = policies.current()
    policy = in_force.policy
    mv = resolve(ref)
    version = str(mv.version)
    pinned = evaluation_set.load(version)
    windows = evaluation_set.windows(pinned)
    report = report_on(version, windows, policy)
    champion = decided_aliases()[CHAMPION]
    champion_report = None
    if champion is not None and champion != version:
        champion_report = report_on(champion, windows, policy)
    else:
        champion = None
    verdict = judge(report, policy, champion_report)
    evidence = {"eval_set_sha256": pinned.sha256, "report_sha256": _stored(report, mv.run_id, "candidate")}
    if champion_report is not None:
        evidence["champion_report_sha256"] = _stored(champion_report, mv.run_id, f"champion-v{champion}")
    status = record_verdict(version, verdict, champion, user, in_force.version, evidence)
    return GateResult(version, verdict, status, champion, in_force.label)
