"""Users with roles, passwords kept only as salted scrypt hashes, and authentication.

Roles: ``trainer`` (registers models), ``approver`` (approves, rejects, rolls back), ``admin`` (all of
that, plus managing users). The first user must be an admin and can be created without logging in;
after that only an authenticated admin adds users.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from sqlalchemy import func, insert, select

from registry.db import exclusive, reading, users

ROLES = ("trainer", "approver", "admin")
CAN = {
    "register": {"trainer", "admin"},
    "approve": {"approver", "admin"},
    "reject": {"approver", "admin"},
    "rollback": {"approver", "admin"},
    "manage_users": {"admin"},
    "restore": {"admin"},
}
SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # ~50 ms and 16 MiB per check: slow for guessing, fine for people
MIN_PASSWORD = 10
NAME_OK = set("abcdefghijklmnopqrstuvwxyz0123456789._-")


class AuthError(PermissionError):
    """Wrong user or password, or a role that does not allow the action."""


@dataclass(frozen=True)
class User:
    name: str
    role: str

    def require(self, action: str) -> User:
        if self.role not in CAN[action]:
            allowed = ", ".join(sorted(CAN[action]))
            raise AuthError(f"user {self.name!r} ({self.role}) may not {action}; that needs: {allowed}")
        return self


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **SCRYPT)
    enc = base64.b64encode
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${enc(salt).decode()}${enc(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    expected = base64.b64decode(digest)
    actual = hashlib.scrypt(
        password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
    )
    return hmac.compare_digest(actual, expected)


@cache
def _dummy_hash() -> str:
    """Checked against for unknown users, so a wrong name takes as long as a wrong password."""
    return hash_password(secrets.token_hex(8))


def authenticate(name: str, password: str) -> User:
    with reading() as conn:
        row = conn.execute(select(users.c.role, users.c.password_hash).where(users.c.name == name)).first()
    ok = check_password(password, row.password_hash if row else _dummy_hash())
    if row is None or not ok:
        raise AuthError(f"wrong user name or password for {name!r}")
    return User(name, row.role)


def _validate(name: str, role: str, password: str) -> None:
    if not name or set(name) - NAME_OK or len(name) > 64:
        raise ValueError(f"user name {name!r}: use 1-64 of a-z, 0-9, '.', '_', '-'")
    if role not in ROLES:
        raise ValueError(f"role {role!r}: one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password for {name!r} is too short: at least {MIN_PASSWORD} characters")


def add_user(name: str, role: str, password: str, by: User | None) -> User:
    """Create a user; ``by`` must be an admin unless there are no users yet (then ``role`` must be admin)."""
    _validate(name, role, password)
    with exclusive() as conn:
        count = conn.execute(select(func.count()).select_from(users)).scalar_one()
        if count == 0:
            if role != "admin":
                raise AuthError("the first user must be an admin (ppg users add NAME --role admin)")
            creator = name
        else:
            if by is None:
                raise AuthError("adding a user needs an authenticated admin (--admin NAME)")
            creator = by.require("manage_users").name
        if conn.execute(select(users.c.name).where(users.c.name == name)).first():
            raise ValueError(f"user {name!r} already exists")
        conn.execute(
            insert(users).values(
                name=name,
                role=role,
                password_hash=hash_password(password),
                created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                created_by=creator,
            )
        )
    return User(name, role)


def list_users() -> list[dict[str, str]]:
    with reading() as conn:
        rows = conn.execute(select(users.c.name, users.c.role, users.c.created_at, users.c.created_by)).all()
    return [dict(r._mapping) for r in rows]
