"""Passwords are salted slow hashes, roles are enforced, and the audit chain exposes any edit or deletion."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update

from registry import audit
from registry.db import audit as audit_table
from registry.db import exclusive, reading, users
from registry.users import (
    SCRYPT,
    AuthError,
    User,
    add_user,
    authenticate,
    check_password,
    hash_password,
)


def test_passwords_are_salted_slow_hashes_never_stored_in_clear():
    a, b = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert a != b, "a fresh salt per hash"
    assert a.startswith(f"scrypt${SCRYPT['n']}$")
    assert SCRYPT["n"] >= 2**14
    assert check_password("correct horse battery", a)
    assert not check_password("correct horse batterY", a)
    add_user("root", "admin", "long-enough-pw", None)
    with reading() as conn:
        stored = conn.execute(users.select()).first().password_hash
    assert "long-enough-pw" not in stored


def test_roles_and_logins():
    with pytest.raises(AuthError, match="first user must be an admin"):
        add_user("tina", "trainer", "trainer-password", None)
    add_user("root", "admin", "admin-password", None)
    with pytest.raises(AuthError, match="needs an authenticated admin"):
        add_user("tina", "trainer", "trainer-password", None)
    admin = authenticate("root", "admin-password")
    add_user("tina", "trainer", "trainer-password", admin)
    tina = authenticate("tina", "trainer-password")
    with pytest.raises(AuthError, match="may not manage_users"):
        add_user("eve", "admin", "eve-password-1", tina)
    for forged in (
        User("root", "admin"),
        User("tina", "admin", tina.token),
        User("ghost", "admin", "x" * 43),
    ):
        with pytest.raises(AuthError, match=r"no valid login session|may not manage_users"):
            add_user("eve", "admin", "eve-password-1", forged)
    with pytest.raises(AuthError, match="wrong user name or password"):
        authenticate("tina", "wrong-password")
    with pytest.raises(AuthError, match="wrong user name or password"):
        authenticate("nobody", "whatever-password")
    with pytest.raises(ValueError, match="too short"):
        add_user("bob", "approver", "short", admin)
    with pytest.raises(ValueError, match="role"):
        add_user("bob", "boss", "long-enough-pw", admin)
    assert authenticate("tina", "trainer-password").role == "trainer"
    with pytest.raises(AuthError, match="may not approve"):
        tina.require("approve")
    from registry import audit

    added = [(e.actor, e.action, e.body["evidence"]) for e in audit.entries()]
    assert ("root", "add-user", {"name": "tina", "role": "trainer"}) in added, "adding a user is audited"


def _log(n: int = 4) -> str:
    entry = None
    for i in range(n):
        with exclusive() as conn:
            entry = audit.append(conn, "alex", "approve", str(i + 1), {"verdict_sha256": f"{i:064x}"})
    return f"{entry.seq}:{entry.hash}"


def test_an_intact_log_verifies():
    head = _log()
    assert audit.verify(head, expect_head=head) == []
    older = audit.entries()[1]
    assert audit.verify(expect_head=f"2:{older.hash}") == [], "the log may have grown since the export"
    assert [e.seq for e in audit.entries()] == [1, 2, 3, 4]


def test_an_edited_entry_is_detected():
    head = _log()
    with exclusive() as conn:
        conn.execute(update(audit_table).where(audit_table.c.seq == 2).values(actor="mallory"))
    assert any("entry 2" in p and "edited" in p for p in audit.verify(head))


def test_an_edited_body_with_a_recomputed_hash_breaks_the_next_link():
    head = _log()
    entry = audit.entries()[1]
    body = entry.body | {"evidence": {"verdict_sha256": "f" * 64}}
    forged = audit.entry_hash(entry.prev_hash, body)
    import json

    with exclusive() as conn:
        conn.execute(
            update(audit_table).where(audit_table.c.seq == 2).values(body=json.dumps(body), hash=forged)
        )
    assert any("entry 3: previous-hash link broken" in p for p in audit.verify(head))


def test_deleted_entries_are_detected_in_the_middle_and_at_the_end():
    head = _log()
    with exclusive() as conn:
        conn.execute(delete(audit_table).where(audit_table.c.seq == 2))
    assert any("entry 2 is missing" in p for p in audit.verify(head))
    with exclusive() as conn:
        conn.execute(delete(audit_table).where(audit_table.c.seq == 4))  # the newest, head tag left alone
    problems = audit.verify()
    assert "entry 4 is anchored but missing from the log (truncated or deleted)" in problems
    with exclusive() as conn:
        conn.execute(delete(audit_table))  # wiped
    assert any("entry 1 is anchored but missing" in p for p in audit.verify())
    with pytest.raises(audit.AuditIntegrityError, match="anchor remembers later entries"):
        _log(1)  # a fresh chain cannot be started over the anchors


def test_the_anchor_is_append_only_and_a_rewritten_chain_does_not_match_it():
    import json

    from registry.db import audit_anchor

    _log()
    exported = audit.head()
    for statement in (update(audit_anchor).values(hash="f" * 64), delete(audit_anchor)):
        with pytest.raises(Exception, match="append-only"), exclusive() as conn:
            conn.execute(statement)
    chain = audit.entries()
    prev = chain[0].hash
    with exclusive() as conn:  # rewrite entries 2-4 consistently: every link and hash recomputed
        for e in chain[1:]:
            body = e.body | {"actor": "mallory"}
            digest = audit.entry_hash(prev, body)
            values = {"body": json.dumps(body), "actor": "mallory", "prev_hash": prev, "hash": digest}
            conn.execute(update(audit_table).where(audit_table.c.seq == e.seq).values(**values))
            prev = digest
    problems = audit.verify(mirrored_head=audit.head())  # even with the head tag forged to match
    assert [p for p in problems if "differs from the anchored one" in p] == [
        f"entry {n}: its hash differs from the anchored one (the chain was rewritten)" for n in (2, 3, 4)
    ]
    assert any("the exported head" in p for p in audit.verify(expect_head=exported))


def test_aliases_must_continue_from_one_entry_to_the_next():
    with exclusive() as conn:
        audit.append(conn, "alex", "approve", "1", {}, {"champion": None}, {"champion": "1"})
        audit.append(conn, "ana", "approve", "2", {}, {"champion": "1"}, {"champion": "2"})
        audit.append(conn, "ana", "gate", "3", {}, {"champion": "3"}, {"champion": "3"})
    assert audit.verify() == [
        "entry 3: aliases before it {'champion': '3'} differ from the aliases after entry 2"
        " {'champion': '2'} (moved outside a recorded decision)"
    ]
