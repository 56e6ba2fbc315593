"""Answering a flow run that waits for input, as a person in the Prefect UI would, and retrying as they
would: the server refuses an answer that lands while the run is between two pauses (not paused yet, or
paused but its input form not saved yet)."""

from __future__ import annotations

import time

from prefect.exceptions import NotPausedError
from prefect.flow_runs import resume_flow_run


def answer(run_id, run_input: dict, timeout: float = 120) -> None:
    """Send ``run_input`` to the paused run ``run_id``; retries until the server accepts it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            resume_flow_run(run_id, run_input=run_input)
            return
        except (NotPausedError, RuntimeError) as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id} took no answer within {timeout} s: {exc}") from exc
            time.sleep(0.5)
