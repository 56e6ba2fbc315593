"""Progress of an ingest run: a Prefect progress artifact, and on a terminal a bar per file and chunk.

Off a terminal (logs, CI) a line per finished file is printed instead of a bar; with ``show=False``
(``ppg ingest --json``) nothing is printed, and only the artifact moves.
"""

from __future__ import annotations

import time
from uuid import UUID

from prefect.artifacts import create_progress_artifact, update_progress_artifact
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

UPDATE_EVERY_S = 0.5  # the artifact is a server round trip: at most two a second


class RunProgress:
    def __init__(self, files: int, show: bool) -> None:
        self.files, self.done = files, 0
        self.console = Console(stderr=True)
        self.show = show
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
            disable=not (show and self.console.is_terminal),
        )
        self.artifact: UUID | None = None
        self._last = 0.0
        self._task = None

    def __enter__(self) -> RunProgress:
        self.artifact = create_progress_artifact(0.0, key="ingest-progress", description="Files checked")
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()
        self._publish(1.0 if self.files else 0.0, force=True)

    def stage(self, text: str) -> None:
        """A step that is not one file (validating a group of files together): a line, once."""
        if self.show:
            self.console.print(text, highlight=False, markup=False)

    def start_file(self, name: str, windows: int) -> None:
        label = f"[{self.done + 1}/{self.files}] {name[:48]}"
        self._task = self.bar.add_task(label, total=max(windows, 1))

    def chunk(self, read: int, total: int) -> None:
        """A chunk of the current file was checked: ``read`` of ``total`` windows."""
        if self._task is not None:
            self.bar.update(self._task, completed=read, total=max(total, 1))
        self._publish((self.done + read / max(total, 1)) / max(self.files, 1))

    def end_file(self, line: str) -> None:
        self.done += 1
        if self._task is not None:
            self.bar.remove_task(self._task)
            self._task = None
        if self.show:
            self.console.print(f"[{self.done}/{self.files}] {line}", highlight=False, markup=False)
        self._publish(self.done / max(self.files, 1))

    def _publish(self, fraction: float, force: bool = False) -> None:
        now = time.monotonic()
        if self.artifact is None or (not force and now - self._last < UPDATE_EVERY_S):
            return
        self._last = now
        update_progress_artifact(self.artifact, round(100 * min(fraction, 1.0), 1))
