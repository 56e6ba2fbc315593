"""Printing for the command line: human tables on a terminal, JSON with --json, errors on stderr."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True)


def _strict(value: Any) -> Any:
    """NaN and infinities as null: standard JSON has no NaN, and parsers other than Python's refuse it."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    return value


def print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(_strict(payload), indent=2, default=str, allow_nan=False) + "\n")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` on stderr and return the Exit to raise: ``raise fail("...")``."""
    stderr.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def progress_bar(label: str, quiet: bool) -> Progress:
    """A transient bar on stderr, hidden when quiet or not on a terminal; ``label`` may use task fields."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
        disable=quiet or not stderr.is_terminal,
    )


@contextmanager
def progress(description: str, total: int, quiet: bool = False) -> Iterator[Any]:
    """A progress bar over ``total`` items; yields ``advance()``."""
    bar = progress_bar("{task.description}", quiet)
    with bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)
