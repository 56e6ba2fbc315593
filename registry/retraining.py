"""The registry's side of scheduled retraining: what the champion was trained on and how, the retraining
decision recorded (MLflow run and audit log), and the approval request a retraining run waits on.

An approval request is resolved by the registry alone: a person approves or rejects the version in the
registry (``ppg approve``, the dashboard, or the flow's input carrying that person's credentials, checked
here like any other); ``approval_outcome`` reads what the registry decided. A request that times out is
recorded as not approved; the version stays a challenger that a person may still approve later.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import mlflow
from sqlalchemy import select

from ppg_models.training.config import TrainConfig
from registry import audit, version_state
from registry.db import eval_sets, exclusive, reading, versions
from registry.promotion import approve, decided_aliases, record_note, reject
from registry.registration import register_run
from registry.status import Status
from registry.tracking import client
from registry.users import AuthError, User, authenticate, list_users
from registry.versions import resolve

ACTOR = "retrain-flow"
EXPERIMENT = "ppg-retraining"


def champion_basis() -> dict[str, Any] | None:
    """The champion's version, the dataset version its evaluation set was pinned on and its training
    configuration; None when there is no champion."""
    champion = decided_aliases().get("champion")
    if not champion:
        return None
    with reading() as conn:
        dataset = conn.execute(
            select(eval_sets.c.dataset_version).where(eval_sets.c.version == champion)
        ).scalar()
    run_id = resolve(champion).run_id
    with tempfile.TemporaryDirectory() as tmp:
        client()
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="config.yaml", dst_path=tmp)
        config = TrainConfig.from_yaml(Path(path))
    return {"version": champion, "dataset": dataset, "run_id": run_id, "config": config}


def register_once(run, trainer: str, password: str) -> dict[str, Any]:
    """Register and gate ``run`` as ``trainer``, unless the registry already holds its weights (a
    restarted retraining run): then that version, as the registry decided it."""
    with reading() as conn:
        known = conn.execute(
            select(versions.c.version).where(versions.c.weights_sha256 == run.weights_sha256)
        ).scalar()
        state = version_state.get(conn, known) if known else None
    if known:
        already = f"version {known}: these weights were registered already ({state['status']})"
        return {"version": known, "status": state["status"], "gate": [already]}
    result = register_run(run, run.config, authenticate(trainer, password))
    return {"version": result.version, "status": result.status, "gate": result.summary_lines()}


def record_decision(decision: dict[str, Any], flow_run: str, champion: str | None) -> str:
    """The retraining decision and its reason: an MLflow run (experiment ``ppg-retraining``) and an audit
    entry. Returns the MLflow run id."""
    c = client()
    found = c.get_experiment_by_name(EXPERIMENT)
    experiment = found.experiment_id if found else c.create_experiment(EXPERIMENT)
    tags = {
        "ppg.retrain": str(decision["retrain"]).lower(),
        "ppg.retrain.reason": decision["reason"][:5000],
        "ppg.flow_run": flow_run,
        "ppg.champion": champion or "",
        "ppg.dataset_version": decision["dataset"],
    }
    with mlflow.start_run(experiment_id=experiment, run_name=f"decision {flow_run[:8]}", tags=tags) as run:
        mlflow.log_metrics({"new_windows": decision["new_windows"], "new_batches": decision["new_batches"]})
        mlflow.log_dict(decision, "decision.json")
    with exclusive() as conn:
        evidence = {**decision, "flow_run": flow_run, "mlflow_run": run.info.run_id}
        record_note(conn, ACTOR, "retrain-decision", champion, evidence)
    return run.info.run_id


def record_approval_requested(version: str, flow_run: str, timeout_s: int) -> None:
    """A retraining run waits for a person's decision on ``version`` (listed by ``pending_requests``)."""
    with exclusive() as conn:
        record_note(
            conn, ACTOR, "approval-requested", version, {"flow_run": flow_run, "timeout_s": timeout_s}
        )


def pending_requests() -> list[dict[str, Any]]:
    """Open approval requests, newest first: the version, the flow run waiting on it, when it asked and
    how long it waits. A request closes when the registry decides the version or the run gives up."""
    asked: dict[str, audit.Entry] = {}
    for e in audit.entries():
        if e.action == "approval-requested":
            asked[e.version] = e
        elif e.action == "approval-not-given":
            asked.pop(e.version, None)
    states = version_state.decided()  # one read for every version, not one per request
    return [
        {
            "version": v,
            "flow_run": e.body["evidence"].get("flow_run"),
            "requested_at": e.at,
            "timeout_s": e.body["evidence"].get("timeout_s"),
        }
        for v, e in sorted(asked.items(), key=lambda item: item[1].seq, reverse=True)
        if _outcome(states.get(v, version_state.get_default(v))["status"]) is None
    ]


def approval_outcome(version: str) -> str | None:
    """``approved`` once ``version`` became champion (or served as one since), ``rejected`` once it can
    never be promoted; None while the request is open."""
    with reading() as conn:
        return _outcome(version_state.get(conn, version)["status"])


def _outcome(status: str) -> str | None:
    if status in (Status.CHAMPION, Status.RETIRED, Status.ROLLED_BACK):
        return "approved"
    if status in (Status.REJECTED, Status.REJECTED_BY_GATE):
        return "rejected"
    return None


def resolve_with_credentials(
    version: str, name: str, password: str, session_token: str, decision: str, reason: str
) -> str:
    """Approve or reject ``version`` as the person whose credentials came with the flow's input (a
    password, or a session token from ``authenticate``); every registry rule applies."""
    if password:
        user = authenticate(name, password)
    elif session_token:
        roles = {u["name"]: u["role"] for u in list_users()}
        user = User(name, roles.get(name, ""), session_token)  # checked again inside the decision
    else:
        raise AuthError(f"no password or session token for {name!r}")
    if decision == "approve":
        approve(version, user)
        return "approved"
    reject(version, user, reason)
    return "rejected"


def record_not_approved(version: str, why: str, flow_run: str) -> None:
    with exclusive() as conn:
        record_note(conn, ACTOR, "approval-not-given", version, {"reason": why, "flow_run": flow_run})
