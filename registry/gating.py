"""Judge a registered version: fetch its report, evaluate the champion on the same windows, store the verdict.

The gate itself (``registry.gates.judge``) is pure; this module does the I/O around it. The champion is
run on the candidate's own test windows, rebuilt from the candidate's configuration and its lake
dataset version (whose files are hash-checked), so the paired comparison is on identical windows.
"""

from __future__ import annotations

from dataclasses import dataclass

from ppg_models.evaluation.report import EvaluationReport, evaluate
from ppg_models.models.inputs import ModelInputs
from ppg_models.training.run import prepare_splits
from registry import settings
from registry.gates.judge import Verdict, judge
from registry.gates.policy import GatePolicy
from registry.promotion import record_verdict
from registry.tracking import alias_version, client
from registry.versions import load_config, load_model, load_report, resolve


class GateInputError(ValueError):
    """The evidence a verdict needs cannot be rebuilt (e.g. the evaluation windows are gone)."""


@dataclass(frozen=True)
class GateResult:
    version: str
    verdict: Verdict
    status: str
    champion: str | None


def champion_on_windows(
    candidate_version, champion_version: str, report: EvaluationReport
) -> EvaluationReport:
    """The champion's predictions on exactly the candidate's evaluation windows, as a report."""
    model, _ = load_model(champion_version)
    test = prepare_splits(load_config(candidate_version))["test"]
    expected = set(report.predictions["window_id"])
    if set(test.meta["window_id"]) != expected:
        raise GateInputError(
            f"the evaluation windows of version {candidate_version.version} cannot be rebuilt exactly"
            " (its data changed or moved); the champion cannot be compared on the same windows"
        )
    preds = model.predict(ModelInputs(test.x, test.present))
    return evaluate(preds, test.labels, test.meta, model=f"v{champion_version}", resamples=10, seed=0)


def gate_version(ref: str, policy: GatePolicy, actor: str) -> GateResult:
    """Judge version ``ref`` under ``policy`` against the current champion and record the verdict."""
    mv = resolve(ref)
    report = load_report(mv)
    champion = alias_version(client(), settings.CHAMPION)
    champion_report = None
    if champion is not None and champion != str(mv.version):
        champion_report = champion_on_windows(mv, champion, report)
    else:
        champion = None
    verdict = judge(report, policy, champion_report)
    status = record_verdict(str(mv.version), verdict, champion, actor)
    return GateResult(str(mv.version), verdict, status, champion)
