"""Where benchmark scripts write their results: benchmarks/results/NAME.json and NAME.md."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, object]:
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus_visible": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


def write_results(name: str, payload: dict, markdown: str) -> Path:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps({"machine": machine(), **payload}, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown.rstrip() + "\n")
    print(markdown)
    return RESULTS / f"{name}.json"
