"""A migrated, empty Prefect database to start a command's own server from.

A Prefect server on a new SQLite database first runs its whole migration history and registers its
block types: about 10 s of the 18 s a first ``ppg ingest`` in a fresh PPG_HOME waited for its server on
2 cores (7-8 s on an existing database). The first server started on a new database is copied, once
healthy and before anything ran on it, to a template in the user's cache, keyed by Prefect's version;
later new databases start as a copy of it. Only SQLite databases of servers the command owns are
touched; a configured server database (PostgreSQL) never is.

The cache is ``PPG_CACHE_DIR``, else ``$XDG_CACHE_HOME/ppg``, else ``~/.cache/ppg``. Deleting it is
always safe: the next new database is migrated from scratch and becomes the template again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

URL_KEYS = ("PREFECT_SERVER_DATABASE_CONNECTION_URL", "PREFECT_API_DATABASE_CONNECTION_URL")


def cache_dir() -> Path:
    chosen = os.environ.get("PPG_CACHE_DIR")
    if chosen:
        return Path(chosen)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ppg"


def template_path() -> Path:
    return cache_dir() / f"prefect-{metadata.version('prefect')}-empty.db"  # without importing Prefect


def server_database(env: Mapping[str, str]) -> Path | None:
    """The SQLite file a Prefect server started with ``env`` uses, or None for any other database."""
    url = next((env[k] for k in URL_KEYS if env.get(k)), None)
    if url is None:
        return Path(env.get("PREFECT_HOME") or "~/.prefect").expanduser() / "prefect.db"
    if not url.startswith("sqlite") or ":memory:" in url or "///" not in url:
        return None
    return Path(url.split("///", 1)[1].split("?", 1)[0]).expanduser()


def seed(database: Path) -> bool:
    """Start a new database as a copy of the template; False when there is none (or it cannot be read)."""
    template = template_path()
    if database.exists() or not template.is_file():
        return False
    database.parent.mkdir(parents=True, exist_ok=True)
    partial = database.with_name(f".{database.name}.{os.getpid()}.seeding")
    try:
        shutil.copyfile(template, partial)
        os.replace(partial, database)
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        return False
    return True


def save(database: Path) -> None:
    """Keep ``database`` (just migrated by a healthy server, nothing run on it yet) as the template.
    A consistent copy through SQLite's backup API; a cache that cannot be written is no error."""
    template = template_path()
    if template.exists():
        return
    partial = template.with_name(f".{template.name}.{os.getpid()}.saving")
    with contextlib.suppress(OSError, sqlite3.Error):
        template.parent.mkdir(parents=True, exist_ok=True)
        source, target = sqlite3.connect(database), sqlite3.connect(partial)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        os.replace(partial, template)
    with contextlib.suppress(OSError):
        partial.unlink(missing_ok=True)


def forget(database: Path) -> None:
    """A server seeded from the template failed to start: drop the copy and the template with it."""
    for path in (database, template_path()):
        path.unlink(missing_ok=True)
