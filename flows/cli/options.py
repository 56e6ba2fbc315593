"""Options that several commands share, defined once: --json, --user; and finding batch files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli.output import fail

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
UserOpt = Annotated[str, typer.Option("--user", "-u", help="Who acts (an approver or admin).")]


def batch_files(inputs: list[Path]) -> list[Path]:
    """Parquet files named directly or found (sorted) in the named directories; exit 2 if none."""
    from ppg_models.training.data import batch_paths

    try:
        return batch_paths(inputs)
    except FileNotFoundError as exc:
        raise fail(str(exc), 2) from None
