"""Human summaries of an ingest run: table rows and a Markdown report (Prefect artifacts, the CLI)."""

from __future__ import annotations

from typing import Any

from ppg_models.ingest.intake import BatchOutcome

REASONS_SHOWN = 3


def _cell(value: object) -> str:
    """A table cell: odd file names must not break the Markdown table."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def summary_rows(outcomes: list[BatchOutcome]) -> list[dict[str, Any]]:
    return [
        {
            "file": o.file,
            "outcome": o.outcome,
            "batch": o.batch_id or "",
            "source": o.source or "",
            "windows": o.windows,
            "accepted": o.accepted_windows,
            "dropped": o.dropped_windows,
            "reason": "; ".join(o.reasons[:REASONS_SHOWN]),
        }
        for o in outcomes
    ]


def markdown_report(summary: dict[str, Any], outcomes: list[BatchOutcome]) -> str:
    counts = summary["counts"]
    lines = [
        f"# Ingest of `{summary['directory']}`",
        "",
        f"Files: {len(outcomes)}; "
        + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items() if not k.endswith("windows")),
        f"Windows accepted: {counts['accepted_windows']}, dropped: {counts['dropped_windows']}.",
        f"Dataset version: `{summary['dataset_version']}` ({summary['lake_windows']} windows in the lake).",
        "",
        "| file | outcome | source | windows | accepted | dropped |",
        "|---|---|---|---:|---:|---:|",
    ]
    lines += [
        "| "
        + " | ".join(
            map(_cell, (o.file, o.outcome, o.source or "", o.windows, o.accepted_windows, o.dropped_windows))
        )
        + " |"
        for o in outcomes
    ]
    problems = [o for o in outcomes if o.reasons]
    if problems:
        lines += ["", "## Reasons"]
        for o in problems:
            lines.append(f"- **{_cell(o.file)}** ({o.outcome}):")
            lines += [f"  - {r}" for r in o.reasons]
    if summary.get("left_in_place"):
        lines += [
            "",
            "Left in place (uploads in progress, links, directories): " + ", ".join(summary["left_in_place"]),
        ]
    return "\n".join(lines) + "\n"
