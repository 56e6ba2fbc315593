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


def summary_line(summary: dict[str, Any]) -> str:
    """One line for the whole run: files per outcome, windows, the dataset version recorded."""
    counts = summary["counts"]
    files = sum(v for k, v in counts.items() if not k.endswith("windows"))
    per_outcome = ", ".join(
        f"{v} {k.replace('_', ' ')}" for k, v in counts.items() if not k.endswith("windows")
    )
    version = summary["dataset_version"] or "none"
    seq = f" (#{summary['dataset_seq']})" if summary.get("dataset_seq") else ""
    return (
        f"{files} files: {per_outcome or 'nothing to do'}; {counts['accepted_windows']:,} windows accepted,"
        f" {counts['dropped_windows']:,} dropped; dataset version {version}{seq},"
        f" {summary['lake_windows']:,} windows in the lake"
    )


def markdown_report(summary: dict[str, Any], outcomes: list[BatchOutcome]) -> str:
    lines = [
        f"# Ingest of `{summary['directory']}`",
        "",
        summary_line(summary) + ".",
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
