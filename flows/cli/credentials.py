"""Passwords for the command line: an environment variable, else one line of standard input when it is
not a terminal (scripts, CI), else a hidden prompt. Never an argument, so it stays out of shell history.

``PPG_PASSWORD`` is the acting user's password; ``PPG_NEW_PASSWORD`` the one a new user gets.
"""

from __future__ import annotations

import getpass
import os
import sys


def read_password(user: str, purpose: str = "password", env: str = "PPG_PASSWORD") -> str:
    value = os.environ.get(env)
    if value is not None:
        return value
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass(f"{purpose} for {user}: ")


def login(user: str):
    """The authenticated registry user ``user`` (raises registry.users.AuthError)."""
    from registry.users import authenticate

    return authenticate(user, read_password(user))
