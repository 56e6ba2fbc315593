"""Passwords for the command line: ``PPG_PASSWORD``, else one line of standard input when it is not a
terminal (scripts, CI), else a hidden prompt. Never an argument, so it stays out of shell history."""

from __future__ import annotations

import getpass
import os
import sys


def read_password(user: str, purpose: str = "password") -> str:
    env = os.environ.get("PPG_PASSWORD")
    if env is not None:
        return env
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass(f"{purpose} for {user}: ")


def login(user: str):
    """The authenticated registry user ``user`` (raises registry.users.AuthError)."""
    from registry.users import authenticate

    return authenticate(user, read_password(user))
