"""Options that several commands share, defined once: --json, --user; and finding batch files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli.output import fail

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
UserOpt = Annotated[str, typer.Option("--user", "-u", help="Who acts (an approver or admin).")]
TimeOpt = Annotated[
    str | None, typer.Option("--time", help="CSV: the time column, when its name is not a usual one (Zeit).")
]
TimeUnitOpt = Annotated[
    str, typer.Option(help="CSV: unit of a numeric time column: auto (ms when its name says so), s or ms.")
]
TIME_UNITS = ("auto", "s", "ms")
ChannelOpt = Annotated[
    list[str], typer.Option("--channel", help="CSV: map a column to a channel: COLUMN=ir (repeatable).")
]


def channel_map(pairs: list[str]) -> dict[str, str]:
    """``--channel COLUMN=CHANNEL`` pairs as a mapping (exit 2 naming a malformed one)."""
    out = {}
    for pair in pairs:
        column, sep, channel = pair.partition("=")
        if not sep or not column or not channel:
            raise fail(f"--channel takes COLUMN=CHANNEL, got {pair!r}", 2)
        out[column] = channel
    return out


def time_unit(value: str) -> str:
    """``--time-unit`` checked (exit 2 naming the value)."""
    if value not in TIME_UNITS:
        raise fail(f"--time-unit takes {', '.join(TIME_UNITS)}, got {value!r}", 2)
    return value


def batch_files(inputs: list[Path]) -> list[Path]:
    """Parquet files named directly or found (sorted) in the named directories; exit 2 if none."""
    from ppg_models.training.data import batch_paths

    try:
        return batch_paths(inputs)
    except FileNotFoundError as exc:
        raise fail(str(exc), 2) from None
