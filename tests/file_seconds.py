"""How long each test file keeps a worker busy, so that the longest files start first.

``make test`` runs two xdist workers with ``--dist loadfile --no-loadscope-reorder``: whole files go to
whichever worker is free, in collection order. xdist's default order (most tests first) started the
single 4-minute server test and the demo last, and the run ended with one worker idle for minutes.
``tests/conftest.py`` sorts the collected files by the seconds recorded in ``file_seconds.json``
(longest first; files not listed after, in their usual order), which is longest-processing-time-first
scheduling. Refresh the table from a full run's durations:

    make test PYTEST_ARGS=--durations=0 | tee /tmp/durations.log
    .venv/bin/python tests/file_seconds.py /tmp/durations.log
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

TABLE = Path(__file__).with_name("file_seconds.json")
_LINE = re.compile(r"\s*([\d.]+)s (?:call|setup|teardown)\s+([^:\s]+)::")


def load() -> dict[str, float]:
    return json.loads(TABLE.read_text()) if TABLE.is_file() else {}


def seconds_per_file(durations_log: str) -> dict[str, float]:
    """Setup, call and teardown seconds summed per file from pytest's ``--durations=0`` lines."""
    total: Counter[str] = Counter()
    for line in durations_log.splitlines():
        if match := _LINE.match(line):
            total[match.group(2)] += float(match.group(1))
    return {path: round(s, 1) for path, s in total.most_common() if s >= 1.0}


def longest_first(nodeid: str, table: dict[str, float]) -> float:
    """Sort key of a test: minus its file's recorded seconds (unlisted files: 0)."""
    return -table.get(nodeid.split("::", 1)[0], 0.0)


if __name__ == "__main__":
    table = seconds_per_file(Path(sys.argv[1]).read_text())
    if not table:
        raise SystemExit(f"{sys.argv[1]}: no '--durations=0' lines found")
    TABLE.write_text(json.dumps(table, indent=1) + "\n")
    print(f"{TABLE}: {len(table)} files, {sum(table.values()):.0f} worker-seconds")
