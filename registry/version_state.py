"""Each version's state as the registry decided it (``ppg_version_state``), and its mirror in MLflow tags.

A decision changes the state inside its exclusive transaction, marked not yet mirrored; after the
commit ``mirror_pending`` writes the ``ppg.*`` tags and marks them mirrored, and a decision cut off in
between is finished by the next one. A tag that differs from the state while nothing is pending was
written outside the registry (with the MLflow client): every decision refuses, naming the difference,
until an admin restores the mirror. Decisions read the state here, never from the tags.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mlflow import MlflowClient
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from registry import settings
from registry.aliases import MirrorError
from registry.db import reading, version_state, versions
from registry.status import Status

#: State column -> the MLflow model-version tag that mirrors it.
TAGS = {
    "status": "ppg.status",
    "outcome": "ppg.gate.outcome",
    "policy_version": "ppg.gate.policy_version",
    "policy_sha256": "ppg.gate.policy_sha256",
    "champion_version": "ppg.gate.champion_version",
    "verdict_sha256": "ppg.gate.verdict_sha256",
}


def get(conn: Connection, version: str) -> dict[str, Any]:
    """The decided state of ``version`` (``registered`` with no verdict when nothing was decided)."""
    row = conn.execute(select(version_state).where(version_state.c.version == version)).first()
    return get_default(version) if row is None else dict(row._mapping)


def decided() -> dict[str, dict[str, Any]]:
    """Every version's decided state with its trainer, for listings (read-only)."""
    with reading() as conn:
        states = {r.version: dict(r._mapping) for r in conn.execute(select(version_state)).all()}
        trainers = dict(conn.execute(select(versions.c.version, versions.c.trained_by)).all())
    return {v: states.get(v, get_default(v)) | {"trained_by": t} for v, t in trainers.items()}


def get_default(version: str) -> dict[str, Any]:
    return {"version": version, "status": Status.REGISTERED} | dict.fromkeys(TAGS.keys() - {"status"})


def put(conn: Connection, version: str, actor: str, **changes: Any) -> dict[str, Any]:
    """Change ``version``'s state inside a decision's transaction; mirrored after the commit."""
    unknown = set(changes) - set(TAGS) - {"report_sha256"}
    if unknown:
        raise ValueError(f"not a version state field: {sorted(unknown)}")
    state = get(conn, version) | changes | {"decided_by": actor, "mirrored": 0}
    state["updated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    exists = conn.execute(select(version_state.c.version).where(version_state.c.version == version)).first()
    if exists:
        conn.execute(update(version_state).where(version_state.c.version == version).values(**state))
    else:
        conn.execute(insert(version_state).values(**state))
    return state


def _tag_value(value: Any) -> str | None:
    return None if value is None else str(value)


def _write_tags(c: MlflowClient, state: dict[str, Any], tags: dict[str, str]) -> None:
    name, version = settings.model_name(), state["version"]
    for column, tag in TAGS.items():
        value = _tag_value(state[column])
        if value is not None and tags.get(tag) != value:
            c.set_model_version_tag(name, version, tag, value)
        elif value is None and tag in tags:
            c.delete_model_version_tag(name, version, tag)


def _mlflow_tags(c: MlflowClient) -> dict[str, dict[str, str]]:
    """Every version's tags in one search (an unreachable server raises)."""
    found = c.search_model_versions(f"name = '{settings.model_name()}'")
    return {str(mv.version): dict(mv.tags) for mv in found}


def mirror_pending(conn: Connection, c: MlflowClient, everything: bool = False) -> None:
    """Write the tags of every state not yet mirrored (or of all, to restore them), then mark them."""
    query = select(version_state)
    if not everything:
        query = query.where(version_state.c.mirrored == 0)
    rows = [dict(r._mapping) for r in conn.execute(query).all()]
    if not rows:
        return
    tags = _mlflow_tags(c)
    for state in rows:
        _write_tags(c, state, tags.get(state["version"], {}))
    conn.execute(
        update(version_state)
        .where(version_state.c.version.in_([r["version"] for r in rows]))
        .values(mirrored=1)
    )


def differences(conn: Connection, c: MlflowClient) -> list[str]:
    """Tags that differ from the decided state (ignoring states whose mirror is still pending)."""
    rows = conn.execute(select(version_state).where(version_state.c.mirrored == 1)).all()
    tags = _mlflow_tags(c) if rows else {}
    problems = []
    for row in rows:
        state, found = dict(row._mapping), tags.get(row.version, {})
        for column, tag in TAGS.items():
            if found.get(tag) != _tag_value(state[column]):
                problems.append(
                    f"version {row.version}: MLflow tag {tag} is {found.get(tag)!r} but the registry decided"
                    f" {_tag_value(state[column])!r} (written outside the registry)"
                )
    return problems


def checked(conn: Connection, c: MlflowClient) -> None:
    """Before a decision: finish pending mirrors, then refuse when a tag was changed outside the registry."""
    mirror_pending(conn, c)
    problems = differences(conn, c)
    if problems:
        raise MirrorError(
            "; ".join(problems[:5]) + "; no decision is taken until an admin restores the mirror with"
            " `ppg audit restore-aliases` after checking why"
        )
