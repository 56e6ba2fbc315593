"""Gate policies as registry objects: stored, versioned, activated by an admin (an audited decision).

The policy in force is the highest stored version; with none stored it is the built-in clinical
defaults, version 0. Every verdict names the policy version and hash it was judged under, and an
approval needs a verdict under the policy in force, read here inside the approval's transaction: no
caller, file or environment variable chooses the policy a decision uses. A policy that does not
require non-inferiority on every safety-critical task is refused when it is built (``GatePolicy``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from registry.db import exclusive, policies, reading
from registry.gates.policy import GatePolicy, GatePolicyError
from registry.users import User, verified

BUILT_IN = 0


@dataclass(frozen=True)
class PolicyVersion:
    version: int
    policy: GatePolicy
    activated_by: str | None = None
    activated_at: str | None = None
    reason: str = ""

    @property
    def sha256(self) -> str:
        return self.policy.sha256()

    @property
    def label(self) -> str:
        origin = "built-in defaults" if self.version == BUILT_IN else f"activated by {self.activated_by}"
        return f"policy v{self.version} ({origin}, {self.sha256[:12]})"


def _built_in() -> PolicyVersion:
    return PolicyVersion(BUILT_IN, GatePolicy())


def _refuse_environment() -> None:
    if os.environ.get("PPG_GATE_POLICY"):
        raise GatePolicyError(
            "PPG_GATE_POLICY is not read: the gate policy is a registry object; an admin activates one"
            " with `ppg policy activate FILE --user ADMIN --reason WHY`"
        )


def _from_row(row) -> PolicyVersion:
    policy = GatePolicy.model_validate(json.loads(row.body))
    if policy.sha256() != row.sha256:
        raise GatePolicyError(f"stored gate policy v{row.version} does not match its hash (edited)")
    return PolicyVersion(row.version, policy, row.activated_by, row.activated_at, row.reason)


def in_force(conn: Connection) -> PolicyVersion:
    """The policy in force, read in the caller's transaction."""
    _refuse_environment()
    row = conn.execute(select(policies).order_by(policies.c.version.desc()).limit(1)).first()
    return _built_in() if row is None else _from_row(row)


def current() -> PolicyVersion:
    with reading() as conn:
        return in_force(conn)


def get(version: int) -> PolicyVersion:
    if version == BUILT_IN:
        return _built_in()
    with reading() as conn:
        row = conn.execute(select(policies).where(policies.c.version == version)).first()
    if row is None:
        raise GatePolicyError(f"no gate policy v{version} in the registry")
    return _from_row(row)


def history() -> list[PolicyVersion]:
    with reading() as conn:
        rows = conn.execute(select(policies).order_by(policies.c.version)).all()
    return [_built_in()] + [_from_row(r) for r in rows]


def activate(policy: GatePolicy, user: User, reason: str) -> PolicyVersion:
    """Store ``policy`` as the next version and put it in force (admins; audited). Versions judged under
    an earlier policy must be re-judged before they can be approved."""
    from registry.promotion import record_admin_act  # the audit trail lives with the decisions

    if not reason.strip():
        raise GatePolicyError("activating a gate policy needs a reason")
    with exclusive() as conn:
        user = verified(conn, user, "manage_policy")
        current_policy = in_force(conn)
        if current_policy.sha256 == policy.sha256():
            raise GatePolicyError(f"that policy is already in force ({current_policy.label})")
        number = conn.execute(select(func.coalesce(func.max(policies.c.version), 0))).scalar_one() + 1
        body = json.dumps(policy.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        now = datetime.now(UTC).isoformat(timespec="seconds")
        conn.execute(
            insert(policies).values(
                version=number,
                sha256=policy.sha256(),
                body=body,
                activated_at=now,
                activated_by=user.name,
                reason=reason,
            )
        )
        evidence = {"policy_version": number, "policy_sha256": policy.sha256(), "reason": reason}
        evidence["replaces"] = {"version": current_policy.version, "sha256": current_policy.sha256}
        record_admin_act(conn, user.name, "activate-policy", evidence)
    return PolicyVersion(number, policy, user.name, now, reason)
