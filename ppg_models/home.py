"""The one directory that holds everything the platform writes (``PPG_HOME``, default ``./.ppg``).

Naming a path never creates it: readers see what is there, and only writers make folders
(``home_dir``), so a read-only command on an empty home leaves nothing behind.
"""

from __future__ import annotations

import os
from pathlib import Path


def ppg_home() -> Path:
    """``$PPG_HOME`` if set, else ``.ppg`` in the working directory (not created here)."""
    return Path(os.environ.get("PPG_HOME") or ".ppg").expanduser().resolve()


def home_path(*parts: str) -> Path:
    """A path under PPG_HOME: ``home_path("lake", "incoming")``. Nothing is created."""
    return ppg_home().joinpath(*parts)


def home_dir(*parts: str) -> Path:
    """A directory under PPG_HOME, created if missing (for writers)."""
    path = home_path(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
