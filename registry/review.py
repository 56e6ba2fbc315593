"""What a reviewer reads (the dashboard): every version in a few batched reads, and per version the gate's
own evidence, its verdict, training curves, task affinity and lineage. Read-only: nothing here decides.

Status, verdicts, trainers and approvals come from the registry database (the truth); MLflow supplies
what the run logged (dataset version, balancer, grouping, metrics). Evidence files are checked against
the hashes the registry recorded before they are shown: a report or verdict edited in the artifact store
is an error, never a figure on the page.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from ppg_models.evaluation.report import SUBGROUP_ATTRIBUTES, EvaluationReport, evaluate
from ppg_models.lake.dataset import DatasetError, load_version
from ppg_models.lake.history import batch_summary
from ppg_models.lake.store import Lake
from ppg_models.tasks import TASKS
from ppg_models.training.checkpoint import ModelIntegrityError
from ppg_models.training.config import TrainConfig
from ppg_models.training.run import RunResult
from registry import audit, policies, version_state
from registry.db import reading, version_summaries, versions
from registry.gates.judge import Verdict
from registry.promotion import decided_aliases
from registry.tracking import client
from registry.versions import all_versions, load_report, resolve

RUN_BATCH = 100  # run ids per MLflow search: one request per hundred versions, never one per version
CURVE_PREFIXES = ("train_loss.", "val_loss.", "weights.")


def _runs(run_ids: list[str]) -> dict[str, Any]:
    """MLflow runs by id, fetched ``RUN_BATCH`` at a time."""
    c, found = client(), {}
    ids = sorted(set(run_ids))
    experiments = sorted({e.experiment_id for e in c.search_experiments()})
    for start in range(0, len(ids), RUN_BATCH):
        chunk = ids[start : start + RUN_BATCH]
        quoted = ", ".join(f"'{i}'" for i in chunk)
        for run in c.search_runs(experiments, f"attributes.run_id IN ({quoted})", max_results=len(chunk)):
            found[run.info.run_id] = run
    return found


def _grouping(groups: list[list[str]] | None) -> str:
    return "all shared" if not groups else " | ".join("+".join(g) for g in groups)


def _finite_or_none(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def summary_of(run_id: str, run: RunResult, config: TrainConfig) -> dict[str, Any]:
    """What listings show of a version, from the run being registered (kept in the registry database)."""
    primary = {}
    for t in TASKS:
        result = run.report.tasks.get(t.name)
        iv = result.metrics.get(t.primary_metric) if result else None
        if iv is not None:
            primary[t.name] = [_finite_or_none(iv.value), _finite_or_none(iv.low), _finite_or_none(iv.high)]
    return {
        "run_id": run_id,
        "dataset": config.data.dataset or "files",
        "balancer": config.balancer.name,
        "backbone": config.model.backbone,
        "grouping": _grouping(config.model.groups),
        "primary": primary,
    }


def _summary_from_run(run) -> dict[str, Any]:
    """The same summary read back from an MLflow run (versions registered before summaries were kept)."""
    tags, params, metrics = run.data.tags, run.data.params, run.data.metrics
    raw = params.get("model.groups")
    try:
        groups = json.loads(raw) if raw not in (None, "None", "null") else None
    except ValueError:
        groups = [[raw]]
    primary = {}
    for t in TASKS:
        key = f"test.{t.name}.{t.primary_metric}"
        if key in metrics:
            primary[t.name] = [metrics[key], metrics.get(f"{key}.low"), metrics.get(f"{key}.high")]
    return {
        "run_id": run.info.run_id,
        "dataset": tags.get("ppg.dataset_version", ""),
        "balancer": tags.get("ppg.balancer", ""),
        "backbone": tags.get("ppg.backbone", ""),
        "grouping": _grouping(groups),
        "primary": primary,
    }


def _decisions() -> dict[str, dict[str, Any]]:
    """Per version, the last approval and rejection (who, when, why) from the audit log."""
    out: dict[str, dict[str, Any]] = {}
    for entry in audit.entries():
        if entry.version is None:
            continue
        row = out.setdefault(entry.version, {})
        if entry.action == "approve":
            row["approved_by"], row["approved_at"] = entry.actor, entry.at
        elif entry.action == "reject":
            row["rejected_by"], row["rejected_reason"] = entry.actor, entry.body["evidence"].get("reason")
    return out


def version_table() -> pd.DataFrame:
    """One row per registered version, newest first: status, alias, gate outcome and policy, trainer,
    approver, dataset version, balancer, grouping, and each task's primary metric from the training run's
    test report (``<task>`` value, ``<task>.low``/``.high`` its interval).

    A handful of queries whatever the number of versions: MLflow's version list, the registry database's
    states, summaries and audit log, and MLflow runs (a hundred per request) only for versions registered
    before summaries were kept."""
    mvs = all_versions()
    states = version_state.decided()
    alias_of = {v: a for a, v in decided_aliases().items() if v is not None}
    decisions = _decisions()
    with reading() as conn:
        registered = dict(conn.execute(select(versions.c.version, versions.c.registered_at)).all())
        summaries = {r.version: json.loads(r.body) for r in conn.execute(select(version_summaries)).all()}
    legacy = _runs([mv.run_id for mv in mvs if str(mv.version) not in summaries])
    rows = []
    for mv in reversed(mvs):
        v = str(mv.version)
        summary = summaries.get(v) or (_summary_from_run(legacy[mv.run_id]) if mv.run_id in legacy else {})
        state = states.get(v)
        row = {
            "version": int(v),
            "alias": alias_of.get(v, ""),
            "status": state["status"] if state else "unrecorded",
            "gate": (state or {}).get("outcome") or "not judged",
            "policy": f"v{state['policy_version']}"
            if state and state.get("policy_version") is not None
            else "",
            "trained_by": (state or {}).get("trained_by") or "",
            "approved_by": decisions.get(v, {}).get("approved_by", ""),
            "registered_at": registered.get(v, ""),
            "dataset": summary.get("dataset", ""),
            "balancer": summary.get("balancer", ""),
            "backbone": summary.get("backbone", ""),
            "grouping": summary.get("grouping", ""),
            "run_id": mv.run_id,
        }
        for t in TASKS:
            value, low, high = summary.get("primary", {}).get(t.name) or (None, None, None)
            row[t.name], row[f"{t.name}.low"], row[f"{t.name}.high"] = (
                np.nan if x is None else x for x in (value, low, high)
            )
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Evidence:
    """A version's predictions on its evaluation windows, scored, and where they come from."""

    version: str
    kind: str  # "gate" (re-derived by the registry at the verdict) or "training" (the run's test report)
    description: str
    report: EvaluationReport

    @property
    def frame(self) -> pd.DataFrame:
        return self.report.predictions_frame()


def _state(version: str) -> dict[str, Any]:
    """One version's decided state (one row, not every version's)."""
    with reading() as conn:
        return version_state.get(conn, str(version))


def _artifact_text(run_id: str, path: str) -> str:
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path, dst_path=tmp)
        return Path(local).read_text()


def _checked_text(run_id: str, path: str, sha256: str, what: str) -> str:
    text = _artifact_text(run_id, path)
    if hashlib.sha256(text.encode()).hexdigest() != sha256:
        raise ModelIntegrityError(
            f"{what} ({path}) differs from the hash the registry recorded ({sha256[:12]})"
        )
    return text


def _score(
    frame: pd.DataFrame, model: str, resamples: int, seed: int, subgroups: tuple[str, ...]
) -> EvaluationReport:
    tasks = [c.removeprefix("pred_") for c in frame.columns if c.startswith("pred_")]
    meta = frame[["window_id", "subject_id", *[a for a in SUBGROUP_ATTRIBUTES if a in frame]]].astype(str)
    for attribute in SUBGROUP_ATTRIBUTES:
        if attribute not in meta:
            meta[attribute] = "unknown"
    preds = {t: pd.to_numeric(frame[f"pred_{t}"], errors="coerce").to_numpy(float) for t in tasks}
    labels = {t: pd.to_numeric(frame[f"label_{t}"], errors="coerce").to_numpy(float) for t in tasks}
    return evaluate(preds, labels, meta, model, resamples, seed, subgroup_attributes=subgroups)


def evidence(version: str, subgroups: tuple[str, ...] = ()) -> Evidence:
    """The gate's evidence for ``version`` when it was judged (its predictions on the pinned evaluation
    set, re-derived by the registry and stored under the hash the verdict records, scored with that
    policy's resamples and seed, so the intervals are the gate's), else the training run's test report
    (hash-checked), labelled as such. Subgroups are scored only for the attributes asked for."""
    mv = resolve(version)
    state = _state(version)
    sha = state.get("report_sha256")
    if sha:
        text = _checked_text(mv.run_id, f"gate/candidate-predictions-{sha[:12]}.csv", sha, "gate evidence")
        policy = policies.get(int(state["policy_version"])).policy
        frame = pd.read_csv(io.StringIO(text))
        report = _score(frame, f"v{version}", policy.resamples, policy.seed, subgroups)
        against = f"champion v{state['champion_version']}" if state.get("champion_version") else "no champion"
        description = (
            f"gate evidence: predictions re-derived by the registry on the pinned evaluation set when it was"
            f" judged under policy v{state['policy_version']} (against {against})"
        )
        return Evidence(str(version), "gate", description, report)
    report = load_report(mv)
    return Evidence(
        str(version), "training", "training run's test report (not judged by the gate yet)", report
    )


def verdict(version: str) -> Verdict | None:
    """The verdict in force for ``version`` (None when never judged), checked against its recorded hash."""
    state = _state(version)
    sha, policy_sha = state.get("verdict_sha256"), state.get("policy_sha256")
    if not sha or not policy_sha:
        return None
    mv = resolve(version)
    path = f"gate/verdict-{policy_sha[:12]}-{sha[:12]}.json"
    return Verdict.from_dict(json.loads(_checked_text(mv.run_id, path, sha, "the verdict")))


def curves(run_id: str) -> pd.DataFrame:
    """Per-epoch training and validation losses and balancer weights: columns epoch, series, task, value."""
    c = client()
    run = c.get_run(run_id)
    rows = []
    for key in sorted(run.data.metrics):
        if not key.startswith(CURVE_PREFIXES):
            continue
        series, task = key.split(".", 1)
        rows += [(m.step, series, task, m.value) for m in c.get_metric_history(run_id, key)]
    return pd.DataFrame(rows, columns=["epoch", "series", "task", "value"])


def affinity(run_id: str) -> pd.DataFrame | None:
    """The task-affinity (TAG) matrix the run measured, long form (source, target, affinity); None if
    the run did not measure it."""
    try:
        raw = json.loads(_artifact_text(run_id, "affinity/affinity.json"))
    except Exception:  # no such artifact: affinity was not measured (affinity_every: 0)
        return None
    tasks, matrix = raw["tasks"], raw["matrix"]
    return pd.DataFrame(
        [(a, b, matrix[i][j]) for i, a in enumerate(tasks) for j, b in enumerate(tasks)],
        columns=["from", "to", "affinity"],
    )


def lineage(version: str) -> dict[str, Any]:
    """batches -> dataset version -> run -> version -> verdicts -> approval, from the registry's records."""
    mv = resolve(version)
    run = client().get_run(mv.run_id)
    dataset = run.data.tags.get("ppg.dataset_version")
    batches: list[dict[str, Any]] = []
    dataset_note = ""
    if dataset and dataset != "files":
        try:
            lake = Lake()
            found = load_version(lake, dataset)
            batches = [batch_summary(lake, b) for b in found.batches]
        except DatasetError as exc:
            dataset_note = str(exc)
    events = [
        {"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "evidence": _evidence_words(e.body)}
        for e in audit.entries()
        if e.version == str(version) or e.body.get("evidence", {}).get("from") == str(version)
    ]
    return {
        "version": str(version),
        "dataset": dataset,
        "dataset_note": dataset_note,
        "batches": batches,
        "run": {"id": mv.run_id, "name": run.info.run_name, "started": run.info.start_time},
        "events": events,
    }


def _evidence_words(body: dict[str, Any]) -> str:
    ev = body.get("evidence", {})
    parts = []
    keys = (
        "name",
        "role",
        "outcome",
        "policy_version",
        "champion_version",
        "reason",
        "dataset_version",
        "from",
        "to",
    )
    for key in keys:
        if ev.get(key) not in (None, ""):
            parts.append(f"{key.replace('_', ' ')}: {ev[key]}")
    return "; ".join(parts)


def audit_log() -> tuple[pd.DataFrame, list[str]]:
    """The audit log (newest first) and the problems verification finds (empty: the log verifies)."""
    from registry.integrity import problems

    entries = audit.entries()
    frame = pd.DataFrame(
        [
            {
                "seq": e.seq,
                "at": e.at[:19].replace("T", " ") + " UTC",
                "actor": e.actor,
                "action": e.action,
                "version": e.version or "",
                "details": _evidence_words(e.body),
                "hash": e.hash[:12],
            }
            for e in reversed(entries)
        ],
        columns=["seq", "at", "actor", "action", "version", "details", "hash"],
    )
    return frame, problems()
