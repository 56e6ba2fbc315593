"""The append-only, hash-chained audit log of every registry decision.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's canonical JSON (who, when,
what, which version, the evidence hashes, the aliases before and after). Editing an entry breaks its
hash; deleting one breaks the chain (sequence gap or wrong previous hash); deleting the newest is caught
against the head that is also written as a tag on the registered model in MLflow.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from registry.db import audit, reading

GENESIS = "0" * 64


@dataclass(frozen=True)
class Entry:
    seq: int
    at: str
    actor: str
    action: str
    version: str | None
    body: dict[str, Any]
    prev_hash: str
    hash: str


def _canonical(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)


def entry_hash(prev_hash: str, body: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + "\n" + _canonical(body)).encode()).hexdigest()


def append(
    conn: Connection,
    actor: str,
    action: str,
    version: str | None,
    evidence: dict[str, Any] | None = None,
    aliases_before: dict[str, str | None] | None = None,
    aliases_after: dict[str, str | None] | None = None,
) -> Entry:
    """Add an entry inside the caller's exclusive transaction (registry.db.exclusive)."""
    last = conn.execute(select(audit.c.seq, audit.c.hash).order_by(audit.c.seq.desc()).limit(1)).first()
    seq = 1 if last is None else last.seq + 1
    prev = GENESIS if last is None else last.hash
    body = {
        "seq": seq,
        "at": datetime.now(UTC).isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "version": version,
        "evidence": evidence or {},
        "aliases_before": aliases_before or {},
        "aliases_after": aliases_after or {},
    }
    digest = entry_hash(prev, body)
    conn.execute(
        insert(audit).values(
            seq=seq,
            at=body["at"],
            actor=actor,
            action=action,
            version=version,
            body=_canonical(body),
            prev_hash=prev,
            hash=digest,
        )
    )
    return Entry(seq, body["at"], actor, action, version, body, prev, digest)


def entries() -> list[Entry]:
    with reading() as conn:
        rows = conn.execute(select(audit).order_by(audit.c.seq)).all()
    return [
        Entry(r.seq, r.at, r.actor, r.action, r.version, json.loads(r.body), r.prev_hash, r.hash)
        for r in rows
    ]


def verify(head: str | None = None) -> list[str]:
    """Every problem found in the chain (empty: intact). ``head`` is the anchor "seq:hash" kept in MLflow."""
    problems = []
    prev, expected_seq = GENESIS, 1
    chain = entries()
    for e in chain:
        if e.seq != expected_seq:
            problems.append(f"entry {expected_seq} is missing (next entry is {e.seq})")
        if e.prev_hash != prev:
            problems.append(
                f"entry {e.seq}: previous-hash link broken (an entry before it was changed or removed)"
            )
        columns = (e.at, e.actor, e.action, e.version)
        in_body = (e.body.get("at"), e.body.get("actor"), e.body.get("action"), e.body.get("version"))
        if e.body.get("seq") != e.seq or columns != in_body:
            problems.append(f"entry {e.seq}: columns differ from the hashed body (edited)")
        if entry_hash(e.prev_hash, e.body) != e.hash:
            problems.append(f"entry {e.seq}: content does not match its hash (edited)")
        prev, expected_seq = e.hash, e.seq + 1
    if head:
        seq, _, digest = head.partition(":")
        last = chain[-1] if chain else None
        if last is None or str(last.seq) != seq or last.hash != digest:
            have = f"{last.seq}:{last.hash[:12]}" if last else "an empty log"
            problems.append(
                f"the log ends at {have}, but the registry's anchor says {seq}:{digest[:12]} (truncated)"
            )
    return problems
