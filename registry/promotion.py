"""Promotion decisions: verdicts, approval, rejection and rollback, each recorded in the audit log.

Every decision runs inside the registry's exclusive transaction (``registry.db.exclusive``): the
aliases are read from the registry database, checked, decided and written to the audit log as one
step, so racing decisions are applied one after the other and the log's aliases-before always equal
the previous aliases-after. MLflow's aliases mirror the decision after the commit (``registry.aliases``):
a decision cut off before its mirror is finished by the next one, and an alias moved by hand in MLflow
stops every decision until an admin restores it.

The state of a version (status and the verdict in force) lives in the registry database
(``registry.version_state``) and moves as ``registry.status`` describes; MLflow's ``ppg.*`` tags mirror
it, and a tag changed outside the registry stops every decision the same way a moved alias does. The
gate policy an approval needs is the one in force in the registry (``registry.policies``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from mlflow import MlflowClient
from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection

from registry import aliases, audit, policies, settings, version_state
from registry.aliases import Aliases
from registry.db import champions, eval_sets, exclusive, reading, version_summaries, versions
from registry.gates.judge import Verdict
from registry.status import AFTER_GATE, NEVER_PROMOTABLE, Status
from registry.tracking import client, ensure_registered_model
from registry.users import User, related_accounts, verified
from registry.versions import resolve

CHAMPION, CHALLENGER = settings.CHAMPION, settings.CHALLENGER


class PromotionError(ValueError):
    """A decision the rules do not allow; the message says which rule."""


def _tags(c: MlflowClient, version: str, tags: dict[str, str]) -> None:
    """Informational tags (who, why); decisions never read them back."""
    for key, value in tags.items():
        c.set_model_version_tag(settings.model_name(), version, key, str(value))


def _checked(conn: Connection, c: MlflowClient) -> Aliases:
    """Before any decision: the decided aliases, after checking MLflow's aliases and tags mirror them."""
    before = aliases.checked(conn, c)
    version_state.checked(conn, c)
    return before


def _record(
    conn: Connection, c: MlflowClient, user: str, action: str, version: str | None, evidence, before, after
):
    entry = audit.append(conn, user, action, version, evidence, before, after)
    c.set_registered_model_tag(settings.model_name(), "ppg.audit.head", f"{entry.seq}:{entry.hash}")
    return entry


def _mirror(c: MlflowClient, after: Aliases) -> Aliases:
    """After a decision's commit: move MLflow's aliases and tags to what is decided now, mark them mirrored.

    Under the registry lock, so two decisions never write MLflow's aliases at once (MLflow's SQL store
    inserts a new alias row without a lock: two racing verdicts both creating the challenger alias hit a
    unique violation on PostgreSQL), and a slower decision never mirrors a value a later one replaced."""
    with exclusive() as conn:
        decided = aliases.truth(conn)
        aliases.mirror(c, decided)
        aliases.mark_mirrored(conn, decided)
        version_state.mirror_pending(conn, c)
    return after


def decided_aliases() -> Aliases:
    """The champion and challenger as the registry decided them (read-only)."""
    with reading() as conn:
        return aliases.truth(conn)


def record_admin_act(conn: Connection, actor: str, action: str, evidence: dict[str, Any]) -> None:
    """Audit an administrative decision (a user added, aliases restored) inside its transaction."""
    record_note(conn, actor, action, None, evidence)


def record_note(
    conn: Connection, actor: str, action: str, version: str | None, evidence: dict[str, Any]
) -> None:
    """Audit an act that moves no alias (an administrative decision, a retraining run's decision or
    approval request) inside its transaction: the aliases before and after it are the decided ones,
    and MLflow's head tag follows the log."""
    c = client()
    ensure_registered_model(c)  # the audit anchor is a tag on it
    current = aliases.truth(conn)
    _record(conn, c, actor, action, version, evidence, current, current)


def record_registration(
    version: str,
    user: User,
    evidence: dict[str, Any],
    eval_set: dict[str, Any],
    bundle_sha256: str,
    summary: dict[str, Any] | None = None,
) -> None:
    """Audit a new version; record its trainer and bundle hashes, pin its evaluation set and keep the
    summary listings show (``registry.review.summary_of``)."""
    user.require("register")
    c = client()
    with exclusive() as conn:
        user = verified(conn, user, "register")
        before = _checked(conn, c)
        conn.execute(insert(eval_sets).values(version=version, **eval_set))
        conn.execute(
            insert(versions).values(
                version=version,
                trained_by=user.name,
                weights_sha256=evidence["weights_sha256"],
                bundle_sha256=bundle_sha256,
                registered_at=_now(),
            )
        )
        version_state.put(conn, version, user.name, status=Status.REGISTERED)
        if summary is not None:
            body = json.dumps(summary, sort_keys=True, allow_nan=False, default=str)
            conn.execute(insert(version_summaries).values(version=version, body=body))
        evidence = evidence | {"eval_set_sha256": eval_set["sha256"], "bundle_sha256": bundle_sha256}
        _record(conn, c, user.name, "register", version, evidence, before, before)
    _mirror(c, before)


def record_verdict(
    version: str, verdict: Verdict, champion: str | None, user: User, policy_version: int, evidence: dict
) -> Status:
    """Store a verdict on ``version`` (state, a JSON artifact) and move the challenger alias.

    Refused when the policy in force or the champion changed while the evidence was computed."""
    user.require("gate")
    c = client()
    body = json.dumps(verdict.to_dict(), indent=1, sort_keys=True)
    verdict_sha = hashlib.sha256(body.encode()).hexdigest()
    mv = resolve(version)
    c.log_text(mv.run_id, body, f"gate/verdict-{verdict.policy_sha256[:12]}-{verdict_sha[:12]}.json")
    with exclusive() as conn:
        user = verified(conn, user, "gate")
        before = _checked(conn, c)
        policy = policies.in_force(conn)
        if (policy.version, policy.sha256) != (policy_version, verdict.policy_sha256):
            raise PromotionError(
                f"the gate policy changed to {policy.label} while version {version} was judged;"
                " judge it again"
            )
        if champion != (before[CHAMPION] if before[CHAMPION] != version else None):
            raise PromotionError(f"the champion changed while version {version} was judged; judge it again")
        after = dict(before)
        status = version_state.get(conn, version)["status"]
        new_status = status
        if status not in NEVER_PROMOTABLE and before[CHAMPION] != version:
            new_status = AFTER_GATE[verdict.outcome]
            if verdict.outcome == "pass":
                after[CHALLENGER] = version
            elif before[CHALLENGER] == version:
                after[CHALLENGER] = None
        aliases.decide(conn, after)
        version_state.put(
            conn,
            version,
            user.name,
            status=new_status,
            outcome=verdict.outcome,
            policy_version=policy.version,
            policy_sha256=policy.sha256,
            champion_version=champion,
            verdict_sha256=verdict_sha,
            report_sha256=evidence.get("report_sha256"),
        )
        _tags(c, version, {"ppg.gate.reasons": " | ".join(verdict.reasons())[:4000] or "-"})
        evidence = {
            "outcome": verdict.outcome,
            "verdict_sha256": verdict_sha,
            "policy_version": policy.version,
            "policy_sha256": policy.sha256,
            "champion_version": champion,
        } | evidence
        _record(conn, c, user.name, "gate", version, evidence, before, after)
    _mirror(c, after)
    return Status(new_status)


def _stack_top(conn: Connection) -> int:
    return conn.execute(select(func.coalesce(func.max(champions.c.position), 0))).scalar_one()


def approve(version: str, user: User) -> dict[str, str | None]:
    """Make ``version`` the champion; returns the aliases after. Raises PromotionError naming the rule.

    Everything is read from the registry database inside the transaction: the version's trainer and
    state, the policy in force and the champion; nothing the caller or MLflow's tags say counts."""
    user.require("approve")
    c = client()
    version = str(resolve(version).version)  # canonical: "02" and "v2" are version 2
    with exclusive() as conn:
        user = verified(conn, user, "approve")
        before = _checked(conn, c)
        state = version_state.get(conn, version)
        status = state["status"]
        if status in NEVER_PROMOTABLE:
            raise PromotionError(f"version {version} is {status} and can never be promoted")
        if before[CHAMPION] == version:
            raise PromotionError(f"version {version} is already the champion")
        trainer = conn.execute(select(versions.c.trained_by).where(versions.c.version == version)).scalar()
        if trainer is None:
            raise PromotionError(f"version {version} has no registration record in the registry database")
        if trainer == user.name:
            raise PromotionError(
                f"{user.name!r} trained version {version}; a different approver must approve it"
            )
        if trainer in related_accounts(conn, user.name):
            raise PromotionError(
                f"{user.name!r} and {trainer!r} (who trained version {version}) are not independent: one"
                " created the other's account (directly or through accounts they created); an approver"
                " from outside that line must approve it"
            )
        if state["outcome"] != "pass":
            outcome = state["outcome"] or "not judged"
            raise PromotionError(
                f"version {version} has no passing verdict (gate: {outcome}); run `ppg gate {version}`"
            )
        policy = policies.in_force(conn)
        if (state["policy_version"], state["policy_sha256"]) != (policy.version, policy.sha256):
            raise PromotionError(
                f"version {version} was judged under policy v{state['policy_version']}, but {policy.label}"
                f" is in force; re-judge: `ppg gate {version}`"
            )
        if state["champion_version"] != before[CHAMPION]:
            judged, now = (
                f"champion v{v}" if v else "no champion"
                for v in (state["champion_version"], before[CHAMPION])
            )
            raise PromotionError(
                f"version {version} was judged against {judged}, but there is {now} now;"
                f" re-judge it with `ppg gate {version}`"
            )
        conn.execute(insert(champions).values(position=_stack_top(conn) + 1, version=version, since=_now()))
        after = {CHAMPION: version, CHALLENGER: None if before[CHALLENGER] == version else before[CHALLENGER]}
        aliases.decide(conn, after)
        if before[CHAMPION]:
            version_state.put(conn, before[CHAMPION], user.name, status=Status.RETIRED)
        version_state.put(conn, version, user.name, status=Status.CHAMPION)
        _tags(c, version, {"ppg.approved_by": user.name})
        evidence = {k: state[k] for k in ("verdict_sha256", "policy_version", "policy_sha256", "outcome")}
        _record(conn, c, user.name, "approve", version, evidence, before, after)
    return _mirror(c, after)


def _previous_champion(conn: Connection, current: str) -> str | None:
    """Pop ``current`` and every champion below it that may no longer serve; the one that may, or None.

    A version rejected (by a person or a gate) since it was champion never serves again.
    """
    rows = conn.execute(
        select(champions.c.position, champions.c.version).order_by(champions.c.position)
    ).all()
    for position, version in reversed(rows):
        if version != current and version_state.get(conn, version)["status"] not in NEVER_PROMOTABLE:
            return version
        conn.execute(delete(champions).where(champions.c.position == position))
    return None


def reject(version: str, user: User, reason: str) -> Aliases:
    """Reject a version for good. A rejected champion stops serving: the previous champion that may
    still serve takes over, or there is no champion. Returns the aliases after."""
    user.require("reject")
    if not reason.strip():
        raise PromotionError("a rejection needs a reason")
    c = client()
    version = str(resolve(version).version)  # canonical; raises VersionNotFoundError for an unknown one
    with exclusive() as conn:
        user = verified(conn, user, "reject")
        before = _checked(conn, c)
        after = dict(before)
        if before[CHALLENGER] == version:
            after[CHALLENGER] = None
        if before[CHAMPION] == version:
            after[CHAMPION] = _previous_champion(conn, version)
            if after[CHAMPION]:
                version_state.put(conn, after[CHAMPION], user.name, status=Status.CHAMPION)
        aliases.decide(conn, after)
        version_state.put(conn, version, user.name, status=Status.REJECTED)
        _tags(c, version, {"ppg.rejected_by": user.name, "ppg.rejected_reason": reason})
        _record(conn, c, user.name, "reject", version, {"reason": reason}, before, after)
    return _mirror(c, after)


def rollback(user: User, reason: str) -> Aliases:
    """Put back the previous champion that may still serve (never a rejected one); the replaced one is
    marked rolled-back."""
    user.require("rollback")
    c = client()
    with exclusive() as conn:
        user = verified(conn, user, "rollback")
        before = _checked(conn, c)
        current = before[CHAMPION]
        if current is None:
            raise PromotionError("there is no champion to roll back")
        previous = _previous_champion(conn, current)
        if previous is None:
            raise PromotionError(
                f"there is no previous champion that may still serve (rejected versions never do);"
                f" v{current} stays champion"
            )
        after = {CHAMPION: previous, CHALLENGER: before[CHALLENGER]}
        aliases.decide(conn, after)
        version_state.put(conn, current, user.name, status=Status.ROLLED_BACK)
        version_state.put(conn, previous, user.name, status=Status.CHAMPION)
        evidence = {"reason": reason, "from": current, "to": previous}
        _record(conn, c, user.name, "rollback", previous, evidence, before, after)
    return _mirror(c, after)


def restore_mirror(user: User, reason: str) -> Aliases:
    """Put MLflow's aliases and ``ppg.*`` tags back to the registry's decisions after a change by hand
    (admin, audited; the differences found are kept in the audit entry)."""
    user.require("restore")
    if not reason.strip():
        raise PromotionError("restoring the aliases needs a reason")
    c = client()
    with exclusive() as conn:
        user = verified(conn, user, "restore")
        decided = aliases.truth(conn)
        moved = aliases.in_mlflow(c)
        tags_found = version_state.differences(conn, c)
        aliases.decide(conn, decided)
        version_state.mirror_pending(conn, c, everything=True)
        evidence = {"reason": reason, "mlflow_aliases_found": moved, "mlflow_tags_found": tags_found}
        _record(conn, c, user.name, "restore-aliases", None, evidence, decided, decided)
    return _mirror(c, decided)


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")
