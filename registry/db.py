"""The registry database: users, the hash-chained audit log and the champion history.

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

#: Each registered version's evaluation set: the window ids of a dataset version, pinned at registration.
eval_sets = Table(
    "ppg_eval_sets",
    metadata,
    Column("version", String(16), primary_key=True),
    Column("dataset_version", String(64), nullable=False),
    Column("window_ids", Text, nullable=False),  # JSON list, sorted
    Column("sha256", String(64), nullable=False),
)

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
