"""The one directory that holds everything the platform writes (``PPG_HOME``, default ``./.ppg``)."""

from __future__ import annotations

import os
from pathlib import Path


def ppg_home() -> Path:
    """``$PPG_HOME`` if set, else ``.ppg`` in the working directory; created on first use."""
    home = Path(os.environ.get("PPG_HOME") or ".ppg").expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home


def home_path(*parts: str) -> Path:
    """A directory under PPG_HOME, created on first use: ``home_path("lake", "incoming")``."""
    path = ppg_home().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
