"""The registry database: the truth of every decision. Users and sessions, the hash-chained audit log
and its append-only anchor, gate policies, each version's registration and state, the aliases and the
champion history. MLflow's tags and aliases only mirror it.

One SQLAlchemy schema for SQLite (embedded) and PostgreSQL (production). ``exclusive`` opens a
transaction that holds the registry-wide lock, so two approvals, rejections, rollbacks or gate
decisions never interleave: PostgreSQL takes ``SELECT ... FOR UPDATE`` on the single lock row, SQLite
starts with ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Connection

from registry.settings import registry_db_url

metadata = MetaData()

users = Table(
    "ppg_users",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("created_by", String(64), nullable=False),
)

#: Login sessions: a decision is taken only for a session that authentication created (hash of its token).
sessions = Table(
    "ppg_sessions",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("issued_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=False),
)

audit = Table(
    "ppg_audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(40), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("version", String(16)),
    Column("body", Text, nullable=False),  # canonical JSON of the whole entry (evidence, aliases)
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

champions = Table(
    "ppg_champions",
    metadata,
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("version", String(16), nullable=False),
    Column("since", String(40), nullable=False),
)

#: The aliases as the registry decided them (the truth; MLflow's aliases mirror it). ``mirrored`` is 0
#: from the decision's commit until MLflow shows the same value, so a half-done decision is repaired.
aliases = Table(
    "ppg_aliases",
    metadata,
    Column("alias", String(32), primary_key=True),
    Column("version", String(16)),
    Column("mirrored", Integer, nullable=False),
)

#: What was registered, as the registry saw it (the truth a tag in MLflow only mirrors).
versions = Table(
    "ppg_versions",
    metadata,
    Column("version", String(16), primary_key=True),
    Column("trained_by", String(64), nullable=False),
    Column("weights_sha256", String(64), nullable=False),
    Column("bundle_sha256", String(64), nullable=False),
    Column("registered_at", String(40), nullable=False),
)

#: What a listing shows of each version (run id, dataset, balancer, grouping, primary metrics), copied from
#: the run at registration so that listing hundreds of versions is one query. Descriptive, never decisive.
version_summaries = Table(
    "ppg_version_summaries",
    metadata,
    Column("version", String(16), primary_key=True),
    Column("body", Text, nullable=False),
)

#: Each registered version's evaluation set: the window ids of a dataset version, pinned at registration.
eval_sets = Table(
    "ppg_eval_sets",
    metadata,
    Column("version", String(16), primary_key=True),
    Column("dataset_version", String(64), nullable=False),
    Column("window_ids", Text, nullable=False),  # JSON list, sorted
    Column("sha256", String(64), nullable=False),
)

#: The state of each version as decided (status and the verdict in force); MLflow's ``ppg.*`` tags mirror
#: it. ``mirrored`` is 0 from the decision's commit until the tags show the same values.
version_state = Table(
    "ppg_version_state",
    metadata,
    Column("version", String(16), primary_key=True),
    Column("status", String(32), nullable=False),
    Column("outcome", String(16)),  # the gate verdict in force: pass | fail | insufficient
    Column("policy_version", Integer),
    Column("policy_sha256", String(64)),
    Column("champion_version", String(16)),  # the champion it was judged against
    Column("verdict_sha256", String(64)),
    Column("report_sha256", String(64)),
    Column("decided_by", String(64)),  # who set the status (approver, rejecter, gate actor)
    Column("updated_at", String(40), nullable=False),
    Column("mirrored", Integer, nullable=False),
)

#: Gate policies, versioned; the highest version is in force (none stored: the built-in defaults, v0).
policies = Table(
    "ppg_policies",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("sha256", String(64), nullable=False),
    Column("body", Text, nullable=False),  # canonical JSON of the validated policy
    Column("activated_at", String(40), nullable=False),
    Column("activated_by", String(64), nullable=False),
    Column("reason", Text, nullable=False),
)

#: Append-only copy of every audit entry's (seq, hash): triggers refuse UPDATE, DELETE (and TRUNCATE on
#: PostgreSQL), so rewriting or truncating the log leaves anchors it cannot match.
audit_anchor = Table(
    "ppg_audit_anchor",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("hash", String(64), nullable=False),
)

_SQLITE_APPEND_ONLY = [
    f"""CREATE TRIGGER IF NOT EXISTS ppg_audit_anchor_no_{op.lower()} BEFORE {op} ON ppg_audit_anchor
    BEGIN SELECT RAISE(ABORT, 'ppg_audit_anchor is append-only'); END"""
    for op in ("UPDATE", "DELETE")
]
_POSTGRES_APPEND_ONLY = [
    """CREATE OR REPLACE FUNCTION ppg_audit_anchor_append_only() RETURNS trigger AS $$
    BEGIN RAISE EXCEPTION 'ppg_audit_anchor is append-only'; END $$ LANGUAGE plpgsql""",
    """DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'ppg_audit_anchor_no_change') THEN
        CREATE TRIGGER ppg_audit_anchor_no_change BEFORE UPDATE OR DELETE ON ppg_audit_anchor
          FOR EACH ROW EXECUTE FUNCTION ppg_audit_anchor_append_only();
      END IF;
      IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'ppg_audit_anchor_no_truncate') THEN
        CREATE TRIGGER ppg_audit_anchor_no_truncate BEFORE TRUNCATE ON ppg_audit_anchor
          FOR EACH STATEMENT EXECUTE FUNCTION ppg_audit_anchor_append_only();
      END IF;
    END $$""",
]

lock = Table("ppg_lock", metadata, Column("id", Integer, primary_key=True, autoincrement=False))


@cache
def _engine(url: str) -> Engine:
    engine = create_engine(url, future=True)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_on_connect(dbapi_connection, _record) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            dbapi_connection.execute("PRAGMA busy_timeout = 30000")

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock at once: no upgrade deadlocks

    metadata.create_all(engine)
    with engine.begin() as conn:
        ddl = _POSTGRES_APPEND_ONLY if engine.dialect.name == "postgresql" else _SQLITE_APPEND_ONLY
        for statement in ddl:
            conn.exec_driver_sql(statement)
        if conn.execute(select(lock.c.id)).first() is None:
            conn.execute(insert(lock).values(id=1))
    return engine


def engine() -> Engine:
    return _engine(registry_db_url())


@contextmanager
def exclusive() -> Iterator[Connection]:
    """A transaction holding the registry lock until it commits (or rolls back on an exception)."""
    eng = engine()
    with eng.begin() as conn:
        if eng.dialect.name == "postgresql":
            conn.execute(text("SELECT id FROM ppg_lock WHERE id = 1 FOR UPDATE"))
        yield conn


@contextmanager
def reading() -> Iterator[Connection]:
    with engine().connect() as conn:
        yield conn
