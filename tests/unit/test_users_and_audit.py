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
    assert audit.verify(head) == []
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
        conn.execute(delete(audit_table))
    _log(3)
    head = f"4:{'a' * 64}"  # the anchor remembers a fourth entry that is gone now
    assert any("truncated" in p for p in audit.verify(head))
