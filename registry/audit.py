"""The append-only, hash-chained audit log of every registry decision.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's canonical JSON (who, when,
what, which version, the evidence hashes, the aliases before and after). Editing an entry breaks its
hash; deleting one breaks the chain (sequence gap or wrong previous hash). Every entry's (seq, hash) is
also written to ``ppg_audit_anchor``, which triggers keep append-only: rewriting the chain from any
entry, truncating it or wiping it leaves anchors the log no longer matches. The head ("seq:hash",
``ppg audit head``) can be exported elsewhere and compared later (``ppg audit verify --expect-head``);
it is mirrored as a tag on the registered model too. Each entry's aliases-before must equal the previous
entry's aliases-after, so no alias change happens outside a recorded decision.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from registry.db import audit, audit_anchor, reading

GENESIS = "0" * 64


class AuditIntegrityError(RuntimeError):
    """The log cannot be appended to: entries that the anchor remembers are gone."""


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
    if conn.execute(select(audit_anchor.c.seq).where(audit_anchor.c.seq >= seq).limit(1)).first():
        raise AuditIntegrityError(
            f"the audit log ends at entry {seq - 1} but its anchor remembers later entries (truncated or"
            " wiped); no decision is recorded until it is investigated (`ppg audit verify`)"
        )
    conn.execute(insert(audit_anchor).values(seq=seq, hash=digest))
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


def anchors() -> dict[int, str]:
    with reading() as conn:
        return dict(conn.execute(select(audit_anchor.c.seq, audit_anchor.c.hash)).all())


def head(chain: list[Entry] | None = None) -> str | None:
    """The log's head as "seq:hash" (export it to compare later), or None for an empty log."""
    chain = entries() if chain is None else chain
    return f"{chain[-1].seq}:{chain[-1].hash}" if chain else None


def _chain_problems(chain: list[Entry]) -> list[str]:
    problems = []
    prev, expected_seq, prev_after = GENESIS, 1, None
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
        before = e.body.get("aliases_before", {})
        if prev_after is not None and before != prev_after:
            problems.append(
                f"entry {e.seq}: aliases before it {before} differ from the aliases after entry"
                f" {e.seq - 1} {prev_after} (moved outside a recorded decision)"
            )
        prev, expected_seq, prev_after = e.hash, e.seq + 1, e.body.get("aliases_after", {})
    return problems


def _anchor_problems(chain: list[Entry], anchored: dict[int, str]) -> list[str]:
    problems = []
    by_seq = {e.seq: e for e in chain}
    for seq, digest in sorted(anchored.items()):
        if seq not in by_seq:
            problems.append(f"entry {seq} is anchored but missing from the log (truncated or deleted)")
        elif by_seq[seq].hash != digest:
            problems.append(f"entry {seq}: its hash differs from the anchored one (the chain was rewritten)")
    problems += [
        f"entry {e.seq} has no anchor (inserted outside the registry)" for e in chain if e.seq not in anchored
    ]
    return problems


def _head_problem(chain: list[Entry], expected: str, where: str) -> str | None:
    seq, _, digest = expected.partition(":")
    found = next((e for e in chain if str(e.seq) == seq), None)
    if found is None or found.hash != digest:
        have = f"{chain[-1].seq}:{chain[-1].hash[:12]}" if chain else "an empty log"
        return f"{where} is {seq}:{digest[:12]}, but the log (ending at {have}) does not hold that entry"
    return None


def verify(mirrored_head: str | None = None, expect_head: str | None = None) -> list[str]:
    """Every problem found in the log (empty: intact).

    ``mirrored_head`` is the head tag kept in MLflow (must be the log's last entry); ``expect_head`` a
    head exported earlier (the log must still hold that entry, unchanged; it may have grown since).
    """
    chain = entries()
    problems = _chain_problems(chain) + _anchor_problems(chain, anchors())
    if mirrored_head:
        last = head(chain)
        if last != mirrored_head:
            have = last[:17] if last else "an empty log"
            problems.append(f"the log ends at {have}, but MLflow's head tag says {mirrored_head[:17]}")
    if expect_head:
        problem = _head_problem(chain, expect_head, "the exported head")
        if problem:
            problems.append(problem)
    return problems
