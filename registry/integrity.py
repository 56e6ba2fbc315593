"""Is this registry whole? The checks behind `ppg audit verify`, and the guard against a swapped database.

``problems`` gathers everything that would make the registry's record untrustworthy: the audit chain
and its append-only anchors (``registry.audit``), a head exported earlier, the head tag in MLflow,
MLflow's aliases and ``ppg.*`` tags against the registry's decisions, and an audit log that is empty
(or missing its registrations) while versions exist.
"""

from __future__ import annotations

from mlflow.exceptions import MlflowException
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from registry import aliases, audit, settings, version_state
from registry.db import audit as audit_table
from registry.db import reading, versions
from registry.tracking import client
from registry.versions import all_versions


def mirrored_head() -> str | None:
    """The audit head as mirrored on the registered model in MLflow (None when there is no model yet)."""
    try:
        return client().get_registered_model(settings.model_name()).tags.get("ppg.audit.head")
    except MlflowException as exc:
        if "RESOURCE_DOES_NOT_EXIST" in str(exc.error_code):
            return None
        raise


def prior_use(conn: Connection) -> str | None:
    """Evidence that this registry was used before (None: never): entries or versions in the database,
    or versions or an audit head in MLflow."""
    entries = conn.execute(select(func.count()).select_from(audit_table)).scalar_one()
    if entries:
        return f"the registry database already holds {entries} audit entries"
    registered = len(all_versions())
    head = mirrored_head()
    if registered or head:
        return (
            f"MLflow at {settings.tracking_uri()} holds {registered} registered versions of"
            f" {settings.model_name()!r} (audit head {head or 'none'}) but the registry database has no"
            " audit log"
        )
    return None


def _mirror_problems() -> list[str]:
    c = client()
    with reading() as conn:
        decided, waiting = aliases.truth(conn), aliases.pending(conn)
        problems = [] if waiting else aliases.differences(decided, aliases.in_mlflow(c))
        problems += version_state.differences(conn, c)
    return problems


def _record_problems(chain: list[audit.Entry]) -> list[str]:
    """Versions in MLflow or the database without their registration in the log; the last entry's
    aliases against the decided ones."""
    in_mlflow = {str(mv.version) for mv in all_versions()}
    with reading() as conn:
        in_db = {v for (v,) in conn.execute(select(versions.c.version)).all()}
        decided = aliases.truth(conn)
    registered = {e.version for e in chain if e.action == "register"}
    problems = []
    if not chain and (in_mlflow or in_db):
        problems.append(f"the audit log is empty but {len(in_mlflow | in_db)} versions are registered")
    elif chain:
        missing = sorted(in_db - registered, key=int)
        if missing:
            problems.append(f"versions {missing} are in the registry database but not registered in the log")
        recorded = chain[-1].body.get("aliases_after", {})
        problems += [
            f"alias {a!r} is v{decided[a]} in the registry's decisions but v{recorded.get(a)} after audit"
            f" entry {chain[-1].seq}"
            for a in aliases.ALIASES
            if decided[a] != recorded.get(a)
        ]
    return problems


def problems(expect_head: str | None = None) -> list[str]:
    """Everything wrong with the registry's record (empty: intact)."""
    chain = audit.entries()
    found = audit.verify(mirrored_head(), expect_head)
    return found + _record_problems(chain) + _mirror_problems()
