"""Where the browser tests find Chromium: Debian's package (``make test`` installs it) or ``PPG_CHROMIUM``."""

from __future__ import annotations

import os
import shutil


def chromium_path() -> str | None:
    return os.environ.get("PPG_CHROMIUM") or shutil.which("chromium")
