"""Promotion decisions: verdicts, approval, rejection and rollback, each recorded in the audit log.

Every decision runs inside the registry's exclusive transaction (``registry.db.exclusive``): the
aliases are read, checked, moved and written to the audit log as one step, so racing decisions are
applied one after the other and the log's aliases-before always equal the previous aliases-after.

Status of a version (tag ``ppg.status``): ``registered`` -> ``challenger`` (gates passed, approval
pending) | ``rejected-by-gate`` (never promotable) | ``insufficient-evidence`` (blocked until re-judged)
-> ``champion`` -> ``retired`` or ``rolled-back``; a person may set ``rejected``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from mlflow import MlflowClient
from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection

from registry import audit, settings
from registry.db import champions, exclusive
from registry.gates.judge import Verdict
from registry.gates.policy import GatePolicy
from registry.tracking import alias_version, client, ensure_registered_model
from registry.users import User
from registry.versions import resolve

CHAMPION, CHALLENGER = settings.CHAMPION, settings.CHALLENGER
NEVER_PROMOTABLE = ("rejected-by-gate", "rejected")
STATUS_AFTER_GATE = {"pass": CHALLENGER, "fail": "rejected-by-gate", "insufficient": "insufficient-evidence"}


class PromotionError(ValueError):
    """A decision the rules do not allow; the message says which rule."""


def _aliases(c: MlflowClient) -> dict[str, str | None]:
    return {CHAMPION: alias_version(c, CHAMPION), CHALLENGER: alias_version(c, CHALLENGER)}


def _set_alias(c: MlflowClient, alias: str, version: str | None) -> None:
    if version is None:
        if alias_version(c, alias) is not None:
            c.delete_registered_model_alias(settings.MODEL_NAME, alias)
    else:
        c.set_registered_model_alias(settings.MODEL_NAME, alias, version)


def _tags(c: MlflowClient, version: str, tags: dict[str, str]) -> None:
    for key, value in tags.items():
        c.set_model_version_tag(settings.MODEL_NAME, version, key, value)


def _record(conn: Connection, c: MlflowClient, user: str, action: str, version: str | None, evidence, before):
    entry = audit.append(conn, user, action, version, evidence, before, _aliases(c))
    c.set_registered_model_tag(settings.MODEL_NAME, "ppg.audit.head", f"{entry.seq}:{entry.hash}")
    return entry


def audit_head() -> str | None:
    c = client()
    ensure_registered_model(c)
    return c.get_registered_model(settings.MODEL_NAME).tags.get("ppg.audit.head")


def alias_problems() -> list[str]:
    """Differences between MLflow's aliases and what the newest audit entry says they became."""
    entries = audit.entries()
    if not entries:
        return []
    c = client()
    recorded, actual = entries[-1].body.get("aliases_after", {}), _aliases(c)
    return [
        f"alias {alias!r} is v{actual.get(alias)} in MLflow but v{recorded.get(alias)} after audit entry"
        f" {entries[-1].seq} (moved outside the registry's decisions)"
        for alias in (CHAMPION, CHALLENGER)
        if actual.get(alias) != recorded.get(alias)
    ]


def record_registration(version: str, user: User, evidence: dict[str, Any]) -> None:
    user.require("register")
    c = client()
    with exclusive() as conn:
        _record(conn, c, user.name, "register", version, evidence, _aliases(c))


def record_verdict(version: str, verdict: Verdict, champion: str | None, actor: str) -> str:
    """Store a verdict on ``version`` (tags and a JSON artifact) and move the challenger alias."""
    c = client()
    body = json.dumps(verdict.to_dict(), indent=1, sort_keys=True)
    verdict_sha = hashlib.sha256(body.encode()).hexdigest()
    mv = resolve(version)
    c.log_text(mv.run_id, body, f"gate/verdict-{verdict.policy_sha256[:12]}-{verdict_sha[:12]}.json")
    with exclusive() as conn:
        before = _aliases(c)
        status = resolve(version).tags.get("ppg.status", "registered")
        new_status = status
        if status not in NEVER_PROMOTABLE and before[CHAMPION] != version:
            new_status = STATUS_AFTER_GATE[verdict.outcome]
            if verdict.outcome == "pass":
                _set_alias(c, CHALLENGER, version)
            elif before[CHALLENGER] == version:
                _set_alias(c, CHALLENGER, None)
        _tags(
            c,
            version,
            {
                "ppg.status": new_status,
                "ppg.gate.outcome": verdict.outcome,
                "ppg.gate.policy_sha256": verdict.policy_sha256,
                "ppg.gate.champion_version": champion or "none",
                "ppg.gate.verdict_sha256": verdict_sha,
                "ppg.gate.reasons": " | ".join(verdict.reasons())[:4000],
            },
        )
        evidence = {
            "outcome": verdict.outcome,
            "verdict_sha256": verdict_sha,
            "policy_sha256": verdict.policy_sha256,
            "champion_version": champion,
            "report_sha256": c.get_run(mv.run_id).data.tags.get("ppg.report_sha256"),
        }
        _record(conn, c, actor, "gate", version, evidence, before)
    return new_status


def _stack_top(conn: Connection) -> int:
    return conn.execute(select(func.coalesce(func.max(champions.c.position), 0))).scalar_one()


def approve(version: str, user: User, policy: GatePolicy) -> dict[str, str | None]:
    """Make ``version`` the champion; returns the aliases after. Raises PromotionError naming the rule."""
    user.require("approve")
    c = client()
    with exclusive() as conn:
        before = _aliases(c)
        tags = resolve(version).tags
        status = tags.get("ppg.status", "registered")
        if status in NEVER_PROMOTABLE:
            raise PromotionError(f"version {version} is {status} and can never be promoted")
        if before[CHAMPION] == version:
            raise PromotionError(f"version {version} is already the champion")
        if tags.get("ppg.trained_by") == user.name:
            raise PromotionError(
                f"{user.name!r} trained version {version}; a different approver must approve it"
            )
        if tags.get("ppg.gate.outcome") != "pass":
            outcome = tags.get("ppg.gate.outcome", "not judged")
            raise PromotionError(
                f"version {version} has no passing verdict (gate: {outcome}); run `ppg gate {version}`"
            )
        if tags.get("ppg.gate.policy_sha256") != policy.sha256():
            raise PromotionError(
                f"version {version} was judged under another gate policy; re-judge: `ppg gate {version}`"
            )
        judged_against = tags.get("ppg.gate.champion_version")
        if judged_against != (before[CHAMPION] or "none"):
            raise PromotionError(
                f"version {version} was judged against champion {judged_against}, but the champion is now"
                f" {before[CHAMPION]}; re-judge it with `ppg gate {version}`"
            )
        conn.execute(insert(champions).values(position=_stack_top(conn) + 1, version=version, since=_now()))
        _set_alias(c, CHAMPION, version)
        if before[CHALLENGER] == version:
            _set_alias(c, CHALLENGER, None)
        if before[CHAMPION]:
            _tags(c, before[CHAMPION], {"ppg.status": "retired"})
        _tags(c, version, {"ppg.status": CHAMPION, "ppg.approved_by": user.name})
        evidence = {k: tags.get(f"ppg.gate.{k}") for k in ("verdict_sha256", "policy_sha256", "outcome")}
        _record(conn, c, user.name, "approve", version, evidence, before)
    return _aliases(c)


def reject(version: str, user: User, reason: str) -> None:
    user.require("reject")
    if not reason.strip():
        raise PromotionError("a rejection needs a reason")
    c = client()
    resolve(version)  # raises VersionNotFoundError for an unknown version
    with exclusive() as conn:
        before = _aliases(c)
        if before[CHAMPION] == version:
            raise PromotionError(f"version {version} is the champion; use `ppg rollback` to replace it")
        if before[CHALLENGER] == version:
            _set_alias(c, CHALLENGER, None)
        _tags(
            c,
            version,
            {"ppg.status": "rejected", "ppg.rejected_by": user.name, "ppg.rejected_reason": reason},
        )
        _record(conn, c, user.name, "reject", version, {"reason": reason}, before)


def rollback(user: User, reason: str) -> dict[str, str | None]:
    """Put the previous champion back; the replaced one is marked rolled-back."""
    user.require("rollback")
    c = client()
    with exclusive() as conn:
        before = _aliases(c)
        rows = conn.execute(
            select(champions.c.position, champions.c.version).order_by(champions.c.position)
        ).all()
        if len(rows) < 2:
            raise PromotionError("there is no previous champion to roll back to")
        current, previous = rows[-1], rows[-2]
        conn.execute(delete(champions).where(champions.c.position == current.position))
        _set_alias(c, CHAMPION, previous.version)
        _tags(c, current.version, {"ppg.status": "rolled-back"})
        _tags(c, previous.version, {"ppg.status": CHAMPION})
        evidence = {"reason": reason, "from": current.version, "to": previous.version}
        _record(conn, c, user.name, "rollback", previous.version, evidence, before)
    return _aliases(c)


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")
