"""Users with roles, passwords kept only as salted scrypt hashes, and authentication.

Roles: ``trainer`` (registers models), ``approver`` (approves, rejects, rolls back), ``admin`` (all of
that, plus managing users and gate policies); any logged-in role may re-run the gate. The first user
must be an admin and can be created without logging in, only in a registry never used before; after
that only an authenticated admin adds users or changes roles, and each is an audited decision.

Identity is checked in the library, not only in the command line: ``authenticate`` issues a session
(a random token, stored hashed with an expiry), and every decision calls ``verified`` inside its own
transaction, which accepts only a live session of that user and takes the role from the database as
it is now. A ``User`` built by hand, or with a role it does not have, decides nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from registry.db import exclusive, reading, sessions, users
from registry.settings import registry_db_url_for_humans

ROLES = ("trainer", "approver", "admin")
CAN = {
    "register": {"trainer", "admin"},
    "approve": {"approver", "admin"},
    "reject": {"approver", "admin"},
    "rollback": {"approver", "admin"},
    "gate": {"trainer", "approver", "admin"},
    "manage_users": {"admin"},
    "manage_policy": {"admin"},
    "restore": {"admin"},
}
SESSION = timedelta(hours=12)
SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # ~50 ms and 16 MiB per check: slow for guessing, fine for people
MIN_PASSWORD = 10
NAME_OK = set("abcdefghijklmnopqrstuvwxyz0123456789._-")


class AuthError(PermissionError):
    """Wrong user or password, or a role that does not allow the action."""


@dataclass(frozen=True)
class User:
    """A logged-in user. ``require`` is an early check; decisions rely on ``verified`` alone."""

    name: str
    role: str
    token: str = field(default="", repr=False, compare=False)  # the session ``authenticate`` issued

    def require(self, action: str) -> User:
        if self.role not in CAN[action]:
            allowed = ", ".join(sorted(CAN[action]))
            raise AuthError(f"user {self.name!r} ({self.role}) may not {action}; that needs: {allowed}")
        return self


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def verified(conn: Connection, user: User, action: str) -> User:
    """Inside a decision's transaction: ``user`` holds a live session and, as stored now, may ``action``."""
    row = None
    if user.token:
        row = conn.execute(
            select(sessions.c.name, sessions.c.expires_at).where(
                sessions.c.token_sha256 == _token_hash(user.token)
            )
        ).first()
    if row is None or row.name != user.name or datetime.fromisoformat(row.expires_at) < _now():
        raise AuthError(f"{user.name!r} has no valid login session: authenticate first")
    role = conn.execute(select(users.c.role).where(users.c.name == user.name)).scalar()
    return User(user.name, role or "", user.token).require(action)


def related_accounts(conn: Connection, name: str) -> set[str]:
    """Accounts in ``name``'s line of creation: every account that created it (up the chain) and every
    account it created (down the chain). A person cannot approve a version trained by one of them."""
    made_by = dict(conn.execute(select(users.c.name, users.c.created_by)).all())
    up, who = set(), made_by.get(name)
    while who and who not in up and who != name:
        up.add(who)
        who = made_by.get(who) if made_by.get(who) != who else None
    down, frontier = set(), {name}
    while frontier:
        frontier = {n for n, by in made_by.items() if by in frontier and n != by} - down - {name}
        down |= frontier
    return up | down


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
    token = secrets.token_urlsafe(32)
    now = _now()
    with exclusive() as conn:
        conn.execute(
            insert(sessions).values(
                token_sha256=_token_hash(token),
                name=name,
                issued_at=now.isoformat(timespec="seconds"),
                expires_at=(now + SESSION).isoformat(timespec="seconds"),
            )
        )
    return User(name, row.role, token)


def _validate(name: str, role: str, password: str) -> None:
    if not name or set(name) - NAME_OK or len(name) > 64:
        raise ValueError(f"user name {name!r}: use 1-64 of a-z, 0-9, '.', '_', '-'")
    if role not in ROLES:
        raise ValueError(f"role {role!r}: one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password for {name!r} is too short: at least {MIN_PASSWORD} characters")


def add_user(name: str, role: str, password: str, by: User | None) -> User:
    """Create a user; ``by`` must be an authenticated admin unless there are no users yet (then ``role``
    must be admin). The addition is an audited decision. Returns the new user (not logged in)."""
    from registry.promotion import record_admin_act  # the audit trail lives with the decisions

    _validate(name, role, password)
    with exclusive() as conn:
        count = conn.execute(select(func.count()).select_from(users)).scalar_one()
        if count == 0:
            if role != "admin":
                raise AuthError("the first user must be an admin (ppg users add NAME --role admin)")
            refuse_if_registry_in_use(conn)
            creator = name
        else:
            if by is None:
                raise AuthError("adding a user needs an authenticated admin (--admin NAME)")
            creator = verified(conn, by, "manage_users").name
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
        record_admin_act(conn, creator, "add-user", {"name": name, "role": role})
    return User(name, role)


def refuse_if_registry_in_use(conn: Connection) -> None:
    """The first admin is created only in a registry that was never used: a database with an audit
    log or versions, or an MLflow model with versions or an audit head, means PPG_REGISTRY_DB points at
    the wrong (or a wiped) database, and creating an admin there would let anyone promote."""
    from registry.integrity import prior_use  # MLflow is asked only for this one check

    found = prior_use(conn)
    if found:
        raise AuthError(
            f"refusing to create a first admin: {found}; the registry database at"
            f" {registry_db_url_for_humans()} is not this registry's (check PPG_REGISTRY_DB)"
        )


def set_role(name: str, role: str, by: User) -> None:
    """Change a user's role (admins; audited). Nobody changes their own role, and the last admin stays."""
    from registry.promotion import record_admin_act

    if role not in ROLES:
        raise ValueError(f"role {role!r}: one of {', '.join(ROLES)}")
    with exclusive() as conn:
        admin = verified(conn, by, "manage_users")
        old = conn.execute(select(users.c.role).where(users.c.name == name)).scalar()
        if old is None:
            raise ValueError(f"no user {name!r}")
        if name == admin.name:
            raise AuthError(f"{admin.name!r} may not change their own role; another admin must")
        if old == role:
            raise ValueError(f"{name!r} is already {role}")
        conn.execute(update(users).where(users.c.name == name).values(role=role))
        record_admin_act(conn, admin.name, "set-role", {"name": name, "from": old, "to": role})


def list_users() -> list[dict[str, str]]:
    with reading() as conn:
        rows = conn.execute(select(users.c.name, users.c.role, users.c.created_at, users.c.created_by)).all()
    return [dict(r._mapping) for r in rows]
