"""The champion and challenger aliases: decided in the registry database, mirrored to MLflow.

A decision reads and writes the aliases in ``ppg_aliases`` inside its exclusive transaction, marked
not yet mirrored; after the commit, under the lock again, ``mirror`` moves MLflow's aliases to match
and marks them mirrored. A decision that dies between the two leaves the mark, and the next decision
(under the same lock) finishes the mirror before it reads anything. An MLflow alias that differs while
nothing is pending was moved outside the registry: every decision refuses to run, naming the
difference, until an admin restores the mirror (``restore_mirror``, audited).
"""

from __future__ import annotations

import json

from mlflow import MlflowClient
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from registry import settings
from registry.db import aliases, audit
from registry.tracking import alias_version

CHAMPION, CHALLENGER = settings.CHAMPION, settings.CHALLENGER
ALIASES = (CHAMPION, CHALLENGER)
Aliases = dict[str, str | None]


class MirrorError(RuntimeError):
    """MLflow's aliases differ from the registry's decisions (moved outside the registry)."""


def in_mlflow(c: MlflowClient) -> Aliases:
    return {alias: alias_version(c, alias) for alias in ALIASES}


def truth(conn: Connection) -> Aliases:
    """The aliases as decided. A registry from before this table starts from its last audit entry."""
    rows = dict(conn.execute(select(aliases.c.alias, aliases.c.version)).all())
    if not rows:
        last = conn.execute(select(audit.c.body).order_by(audit.c.seq.desc()).limit(1)).scalar()
        after = json.loads(last).get("aliases_after", {}) if last else {}
        return {alias: after.get(alias) for alias in ALIASES}
    return {alias: rows.get(alias) for alias in ALIASES}


def pending(conn: Connection) -> bool:
    return conn.execute(select(aliases.c.alias).where(aliases.c.mirrored == 0)).first() is not None


def differences(decided: Aliases, mirrored: Aliases) -> list[str]:
    return [
        f"alias {alias!r} is v{mirrored[alias]} in MLflow but v{decided[alias]} in the registry's decisions"
        " (moved outside the registry)"
        for alias in ALIASES
        if decided[alias] != mirrored[alias]
    ]


def checked(conn: Connection, c: MlflowClient) -> Aliases:
    """The decided aliases, after finishing a pending mirror; refuses when MLflow was moved by hand."""
    decided = truth(conn)
    if pending(conn):
        mirror(c, decided)
        conn.execute(update(aliases).values(mirrored=1))
        return decided
    problems = differences(decided, in_mlflow(c))
    if problems:
        raise MirrorError(
            "; ".join(problems) + "; no decision is taken until an admin restores the aliases with"
            " `ppg audit restore-aliases` after checking why"
        )
    return decided


def decide(conn: Connection, after: Aliases) -> None:
    """Write the aliases a decision chose, to be mirrored after the commit."""
    conn.execute(delete(aliases))
    conn.execute(insert(aliases), [{"alias": a, "version": after[a], "mirrored": 0} for a in ALIASES])


def mirror(c: MlflowClient, decided: Aliases) -> None:
    """Make MLflow's aliases equal the decided ones (idempotent)."""
    for alias, version in decided.items():
        current = alias_version(c, alias)
        if current == version:
            continue
        if version is None:
            c.delete_registered_model_alias(settings.model_name(), alias)
        else:
            c.set_registered_model_alias(settings.model_name(), alias, version)


def mark_mirrored(conn: Connection, decided: Aliases) -> None:
    """After ``mirror``: the decided values are now in MLflow (only if no later decision changed them)."""
    for alias, version in decided.items():
        conn.execute(
            update(aliases).where(aliases.c.alias == alias, aliases.c.version == version).values(mirrored=1)
        )
