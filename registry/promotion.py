"""Promotion decisions: verdicts, approval, rejection and rollback, each recorded in the audit log.

Every decision runs inside the registry's exclusive transaction (``registry.db.exclusive``): the
aliases are read from the registry database, checked, decided and written to the audit log as one
step, so racing decisions are applied one after the other and the log's aliases-before always equal
the previous aliases-after. MLflow's aliases mirror the decision after the commit (``registry.aliases``):
a decision cut off before its mirror is finished by the next one, and an alias moved by hand in MLflow
stops every decision until an admin restores it.

The status of a version (tag ``ppg.status``) moves as ``registry.status`` describes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from mlflow import MlflowClient
from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection

from registry import aliases, audit, settings
from registry.aliases import Aliases
from registry.db import champions, eval_sets, exclusive, reading, versions
from registry.gates.judge import Verdict
from registry.gates.policy import GatePolicy
from registry.status import AFTER_GATE, NEVER_PROMOTABLE, Status
from registry.tracking import client, ensure_registered_model
from registry.users import User, creators, verified
from registry.versions import resolve

CHAMPION, CHALLENGER = settings.CHAMPION, settings.CHALLENGER


class PromotionError(ValueError):
    """A decision the rules do not allow; the message says which rule."""


def _tags(c: MlflowClient, version: str, tags: dict[str, str]) -> None:
    for key, value in tags.items():
        c.set_model_version_tag(settings.model_name(), version, key, str(value))


def _record(
    conn: Connection, c: MlflowClient, user: str, action: str, version: str | None, evidence, before, after
):
    entry = audit.append(conn, user, action, version, evidence, before, after)
    c.set_registered_model_tag(settings.model_name(), "ppg.audit.head", f"{entry.seq}:{entry.hash}")
    return entry


def _mirror(c: MlflowClient, after: Aliases) -> Aliases:
    """After a decision's commit: move MLflow's aliases to what was decided, then mark them mirrored."""
    aliases.mirror(c, after)
    with exclusive() as conn:
        aliases.mark_mirrored(conn, after)
    return after


def decided_aliases() -> Aliases:
    """The champion and challenger as the registry decided them (read-only)."""
    with reading() as conn:
        return aliases.truth(conn)


def record_admin_act(conn: Connection, actor: str, action: str, evidence: dict[str, Any]) -> None:
    """Audit an administrative decision (a user added, aliases restored) inside its transaction."""
    c = client()
    ensure_registered_model(c)  # the audit anchor is a tag on it
    current = aliases.truth(conn)
    _record(conn, c, actor, action, None, evidence, current, current)


def audit_head() -> str | None:
    c = client()
    ensure_registered_model(c)
    return c.get_registered_model(settings.model_name()).tags.get("ppg.audit.head")


def alias_problems() -> list[str]:
    """Differences between MLflow's aliases, the registry's decisions and the newest audit entry."""
    with reading() as conn:
        decided, waiting = aliases.truth(conn), aliases.pending(conn)
    problems = [] if waiting else aliases.differences(decided, aliases.in_mlflow(client()))
    entries = audit.entries()
    recorded = entries[-1].body.get("aliases_after", {}) if entries else {}
    problems += [
        f"alias {a!r} is v{decided[a]} in the registry's decisions but v{recorded.get(a)} after audit entry"
        f" {entries[-1].seq}"
        for a in aliases.ALIASES
        if entries and decided[a] != recorded.get(a)
    ]
    return problems


def record_registration(
    version: str, user: User, evidence: dict[str, Any], eval_set: dict[str, Any], bundle_sha256: str
) -> None:
    """Audit a new version; record its trainer and bundle hashes and pin its evaluation set."""
    user.require("register")
    c = client()
    with exclusive() as conn:
        user = verified(conn, user, "register")
        before = aliases.checked(conn, c)
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
        evidence = evidence | {"eval_set_sha256": eval_set["sha256"], "bundle_sha256": bundle_sha256}
        _record(conn, c, user.name, "register", version, evidence, before, before)


def record_verdict(
    version: str, verdict: Verdict, champion: str | None, actor: str, evidence: dict
) -> Status:
    """Store a verdict on ``version`` (tags and a JSON artifact) and move the challenger alias."""
    c = client()
    body = json.dumps(verdict.to_dict(), indent=1, sort_keys=True)
    verdict_sha = hashlib.sha256(body.encode()).hexdigest()
    mv = resolve(version)
    c.log_text(mv.run_id, body, f"gate/verdict-{verdict.policy_sha256[:12]}-{verdict_sha[:12]}.json")
    with exclusive() as conn:
        before = aliases.checked(conn, c)
        after = dict(before)
        status = resolve(version).tags.get("ppg.status", Status.REGISTERED)
        new_status = status
        if status not in NEVER_PROMOTABLE and before[CHAMPION] != version:
            new_status = AFTER_GATE[verdict.outcome]
            if verdict.outcome == "pass":
                after[CHALLENGER] = version
            elif before[CHALLENGER] == version:
                after[CHALLENGER] = None
        aliases.decide(conn, after)
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
        } | evidence
        _record(conn, c, actor, "gate", version, evidence, before, after)
    _mirror(c, after)
    return Status(new_status)


def _stack_top(conn: Connection) -> int:
    return conn.execute(select(func.coalesce(func.max(champions.c.position), 0))).scalar_one()


def approve(version: str, user: User, policy: GatePolicy) -> dict[str, str | None]:
    """Make ``version`` the champion; returns the aliases after. Raises PromotionError naming the rule."""
    user.require("approve")
    c = client()
    version = str(resolve(version).version)  # canonical: "02" and "v2" are version 2
    with exclusive() as conn:
        user = verified(conn, user, "approve")
        before = aliases.checked(conn, c)
        tags = resolve(version).tags
        status = tags.get("ppg.status", Status.REGISTERED)
        if status in NEVER_PROMOTABLE:
            raise PromotionError(f"version {version} is {status} and can never be promoted")
        if before[CHAMPION] == version:
            raise PromotionError(f"version {version} is already the champion")
        trainer = conn.execute(select(versions.c.trained_by).where(versions.c.version == version)).scalar()
        trainer = trainer or tags.get("ppg.trained_by")
        if trainer == user.name:
            raise PromotionError(
                f"{user.name!r} trained version {version}; a different approver must approve it"
            )
        made_by = creators(conn)
        if made_by.get(trainer) == user.name or made_by.get(user.name) == trainer:
            raise PromotionError(
                f"{user.name!r} and {trainer!r} (who trained version {version}) are not independent: one"
                " created the other's account; an approver from outside that pair must approve it"
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
        after = {CHAMPION: version, CHALLENGER: None if before[CHALLENGER] == version else before[CHALLENGER]}
        aliases.decide(conn, after)
        if before[CHAMPION]:
            _tags(c, before[CHAMPION], {"ppg.status": Status.RETIRED})
        _tags(c, version, {"ppg.status": Status.CHAMPION, "ppg.approved_by": user.name})
        evidence = {k: tags.get(f"ppg.gate.{k}") for k in ("verdict_sha256", "policy_sha256", "outcome")}
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
        if version != current and resolve(version).tags.get("ppg.status") not in NEVER_PROMOTABLE:
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
        before = aliases.checked(conn, c)
        after = dict(before)
        if before[CHALLENGER] == version:
            after[CHALLENGER] = None
        if before[CHAMPION] == version:
            after[CHAMPION] = _previous_champion(conn, version)
            if after[CHAMPION]:
                _tags(c, after[CHAMPION], {"ppg.status": Status.CHAMPION})
        aliases.decide(conn, after)
        _tags(
            c,
            version,
            {"ppg.status": Status.REJECTED, "ppg.rejected_by": user.name, "ppg.rejected_reason": reason},
        )
        _record(conn, c, user.name, "reject", version, {"reason": reason}, before, after)
    return _mirror(c, after)


def rollback(user: User, reason: str) -> Aliases:
    """Put back the previous champion that may still serve (never a rejected one); the replaced one is
    marked rolled-back."""
    user.require("rollback")
    c = client()
    with exclusive() as conn:
        user = verified(conn, user, "rollback")
        before = aliases.checked(conn, c)
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
        _tags(c, current, {"ppg.status": Status.ROLLED_BACK})
        _tags(c, previous, {"ppg.status": Status.CHAMPION})
        evidence = {"reason": reason, "from": current, "to": previous}
        _record(conn, c, user.name, "rollback", previous, evidence, before, after)
    return _mirror(c, after)


def restore_mirror(user: User, reason: str) -> Aliases:
    """Put MLflow's aliases back to the registry's decisions after a move by hand (admin, audited)."""
    user.require("restore")
    if not reason.strip():
        raise PromotionError("restoring the aliases needs a reason")
    c = client()
    with exclusive() as conn:
        user = verified(conn, user, "restore")
        decided = aliases.truth(conn)
        moved = aliases.in_mlflow(c)
        aliases.decide(conn, decided)
        evidence = {"reason": reason, "mlflow_aliases_found": moved}
        _record(conn, c, user.name, "restore-aliases", None, evidence, decided, decided)
    return _mirror(c, decided)


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")
