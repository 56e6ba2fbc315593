"""Locks that keep concurrent ingest runs apart.

``claim`` gives one run a file's hash (an ``O_EXCL`` lock file holding the owner's host and pid; a
lock whose process died is broken). ``commit_lock`` serialises the short critical section in which a
batch is checked against the lake and moved into it (``flock``, released by the kernel on a crash).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

UNREADABLE_LOCK_STALE_S = 60.0


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (one we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale(lock: Path) -> bool:
    try:
        owner = json.loads(lock.read_text())
    except (OSError, ValueError):
        try:
            return time.time() - lock.stat().st_mtime > UNREADABLE_LOCK_STALE_S
        except FileNotFoundError:
            return True
    return owner.get("host") == socket.gethostname() and not alive(int(owner.get("pid", -1)))


def _try_create(lock: Path) -> bool:
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        json.dump({"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}, f)
    return True


@contextlib.contextmanager
def claim(lock_dir: Path, key: str) -> Iterator[bool]:
    """Yield True when this process now owns ``key`` (released on exit), False when another does."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    lock = lock_dir / f"{key}.lock"
    owned = _try_create(lock)
    if not owned and _stale(lock):
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
        owned = _try_create(lock)
    try:
        yield owned
    finally:
        if owned:
            lock.unlink(missing_ok=True)


def is_claimed(lock_dir: Path, key: str) -> bool:
    lock = lock_dir / f"{key}.lock"
    return lock.exists() and not _stale(lock)


@contextlib.contextmanager
def commit_lock(path: Path) -> Iterator[None]:
    """Exclusive across processes on this host and on shared file systems that support flock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
