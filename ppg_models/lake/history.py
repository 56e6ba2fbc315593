"""The lake's history as a reviewer reads it: ingest runs with counts per outcome, quarantined files and
why, drift findings per source, and each batch's validation report. Reads only.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from ppg_models.lake.store import ACCEPTED, QUARANTINED, Lake

DRIFT_CHECKS = ("distribution_drift",)


def _records(lake: Lake) -> list[dict[str, Any]]:
    out = []
    for place in (ACCEPTED, QUARANTINED):
        out += [r | {"place": place} for r in lake.records(place)] if (lake.root / place).is_dir() else []
    return sorted(out, key=lambda r: (r.get("decided_at", ""), r["batch_id"]))


def batch_summary(lake: Lake, batch: dict[str, Any]) -> dict[str, Any]:
    """A dataset version's batch entry with the file it came from and when it was accepted."""
    record_path = lake.batch_dir(batch["batch_id"], ACCEPTED) / "record.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    return {
        "batch": batch["batch_id"],
        "file": record.get("original_name", "(record missing)"),
        "source": batch.get("source"),
        "windows": batch.get("windows"),
        "dropped": len(batch.get("dropped", [])),
        "accepted_at": record.get("decided_at", ""),
    }


def ingest_runs(lake: Lake) -> pd.DataFrame:
    """One row per ingest run (newest first): when, files per outcome, windows accepted and dropped."""
    runs: dict[str, dict[str, Any]] = {}
    for r in _records(lake):
        run = runs.setdefault(
            r.get("run_id") or "(no run id)",
            {"run": r.get("run_id") or "(no run id)", "started": r.get("decided_at", ""), "files": 0},
        )
        run["files"] += 1
        run["finished"] = r.get("decided_at", "")
        run.setdefault("outcomes", Counter())[r.get("outcome", r["place"])] += 1
        rows = r.get("rows") or {}
        run["windows accepted"] = run.get("windows accepted", 0) + int(rows.get("accepted") or 0)
        run["windows dropped"] = run.get("windows dropped", 0) + int(rows.get("dropped") or 0)
    table = []
    for run in runs.values():
        outcomes = run.pop("outcomes")
        table.append(run | {"outcomes": ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))})
    columns = ["run", "started", "finished", "files", "outcomes", "windows accepted", "windows dropped"]
    return pd.DataFrame(table, columns=columns).sort_values("started", ascending=False, ignore_index=True)


def quarantined(lake: Lake) -> pd.DataFrame:
    """Quarantined files, newest first, with every reason (a list per file)."""
    rows = [
        {
            "file": r.get("original_name", ""),
            "source": r.get("source") or "unknown",
            "quarantined_at": r.get("decided_at", ""),
            "reasons": list(r.get("reasons", [])) or ["(none recorded)"],
            "batch": r["batch_id"],
        }
        for r in _records(lake)
        if r["place"] == QUARANTINED
    ]
    columns = ["file", "source", "quarantined_at", "reasons", "batch"]
    return pd.DataFrame(rows, columns=columns).sort_values(
        "quarantined_at", ascending=False, ignore_index=True
    )


def validation_path(lake: Lake, batch_id: str) -> Path | None:
    for place in (ACCEPTED, QUARANTINED):
        path = lake.batch_dir(batch_id, place) / "validation.json"
        if path.is_file():
            return path
    return None


def validation_report(lake: Lake, batch_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A batch's validation report as two tables: the findings (check, column, observed, allowed,
    blocking) and Great Expectations' expectations with their outcome."""
    path = validation_path(lake, batch_id)
    raw = json.loads(path.read_text()) if path else {}
    findings = pd.DataFrame(
        [
            {
                "check": f.get("check"),
                "column": f.get("column") or "",
                "observed": f.get("observed"),
                "allowed": f.get("allowed"),
                "blocking": bool(f.get("blocking")),
                "windows": len(f.get("window_ids") or []),
            }
            for f in raw.get("findings", [])
        ],
        columns=["check", "column", "observed", "allowed", "blocking", "windows"],
    )
    gx = raw.get("great_expectations") or {}
    expectations = pd.DataFrame(
        [
            {
                "expectation": e.get("expectation_type", ""),
                "column": (e.get("kwargs") or {}).get("column", ""),
                "passed": bool(e.get("success")),
                "unexpected": (e.get("result") or {}).get("unexpected_count"),
            }
            for e in gx.get("expectations", [])
        ],
        columns=["expectation", "column", "passed", "unexpected"],
    )
    return findings, expectations


def drift(lake: Lake) -> pd.DataFrame:
    """Drift findings per source and batch (newest first): column, observed, allowed, blocking."""
    rows = []
    for r in _records(lake):
        path = validation_path(lake, r["batch_id"])
        if path is None:
            continue
        for f in json.loads(path.read_text()).get("findings", []):
            if f.get("check") in DRIFT_CHECKS:
                rows.append(
                    {
                        "source": r.get("source") or "unknown",
                        "file": r.get("original_name", ""),
                        "at": r.get("decided_at", ""),
                        "column": f.get("column") or "",
                        "observed": f.get("observed"),
                        "allowed": f.get("allowed"),
                        "blocking": bool(f.get("blocking")),
                    }
                )
    columns = ["source", "file", "at", "column", "observed", "allowed", "blocking"]
    return pd.DataFrame(rows, columns=columns).sort_values("at", ascending=False, ignore_index=True)


def batches(lake: Lake) -> pd.DataFrame:
    """Every batch decided (newest first): file, source, outcome, windows, so a reviewer can pick one."""
    rows = [
        {
            "batch": r["batch_id"],
            "file": r.get("original_name", ""),
            "source": r.get("source") or "unknown",
            "outcome": r.get("outcome", r["place"]),
            "decided_at": r.get("decided_at", ""),
        }
        for r in _records(lake)
    ]
    columns = ["batch", "file", "source", "outcome", "decided_at"]
    return pd.DataFrame(rows, columns=columns).sort_values("decided_at", ascending=False, ignore_index=True)
