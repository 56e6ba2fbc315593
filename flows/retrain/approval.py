"""The approval step of a retraining run: the flow pauses with a typed input form and waits for a person.

Prefect OSS records no identity, so the input carries the person's registry credentials (a password or
a session token), and the registry checks them and every promotion rule, as for `ppg approve`. The
stored input is deleted as soon as it is read. The run pauses once for the whole approval timeout, so a
person's answer is never refused for arriving between two pauses; only a refused answer (wrong
credentials, a trainer approving) pauses it again, for the time left. Decisions made elsewhere
(`ppg approve`, `ppg reject`, the dashboard) resolve the same request: a watcher thread reads the
registry every ``approval_poll_s`` and, once the version is decided, wakes the paused run with an
answer that carries no user, which only makes the run read the registry again (it decides nothing, so
sending one by hand is harmless). Approved, rejected or timed out, the run ends; it is never left paused.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from typing import Literal

from prefect import get_run_logger
from prefect.client.orchestration import get_client
from prefect.context import get_run_context
from prefect.exceptions import FlowPauseTimeout, NotPausedError
from prefect.flow_runs import pause_flow_run, resume_flow_run
from prefect.input import RunInput
from prefect.input.actions import delete_flow_run_input, read_flow_run_input
from prefect.states import Running
from prefect.utilities.engine import propose_state_sync
from pydantic import Field

from registry.promotion import PromotionError
from registry.retraining import (
    approval_outcome,
    record_approval_requested,
    record_not_approved,
    resolve_with_credentials,
)
from registry.users import AuthError


class ApprovalInput(RunInput):
    """What a person sends to approve or reject the version this run registered."""

    user: str = Field(description="Your registry user name (an approver who did not train the version).")
    password: str = Field("", description="Your registry password (or leave empty and give a session token).")
    session_token: str = Field("", description="A session token from signing in, instead of the password.")
    decision: Literal["approve", "reject"] = "approve"
    reason: str = Field("", description="Why (required to reject).")


def _running_again(flow_run_id) -> None:
    """After the pause ran out the run is still Paused (or Failed) on the server: set it Running to go on."""
    with get_client(sync_client=True) as client:
        propose_state_sync(client, Running(), flow_run_id=flow_run_id, force=True)


def _forget(key: str, flow_run_id, parts: tuple[str, ...]) -> None:
    """Delete what a pause stored (its schema and description; the answer, which holds credentials)."""
    for part in parts:
        with contextlib.suppress(Exception):
            delete_flow_run_input(f"paused-{key}-{part}", flow_run_id=flow_run_id)


def _late_answer(key: str, flow_run_id) -> ApprovalInput | None:
    """An answer sent just as the pause ran out (stored, but the pause had stopped looking)."""
    try:
        raw = read_flow_run_input(f"paused-{key}-response", flow_run_id=flow_run_id)
    except Exception:
        return None
    return ApprovalInput.model_validate(raw) if raw else None


WAKE = {"user": "", "decision": "approve", "reason": "decided in the registry"}


def _watch_registry(version: str, flow_run_id, poll_s: int, done: threading.Event) -> None:
    """Until ``done``: once ``version`` is decided in the registry, wake the paused run (retrying while
    it is between pauses)."""
    logger = get_run_logger()
    while not done.wait(poll_s):
        try:
            if approval_outcome(version) is None:
                continue
            resume_flow_run(flow_run_id, run_input=WAKE)
            return
        except (NotPausedError, RuntimeError, FlowPauseTimeout):
            continue  # between two pauses: the run reads the registry itself before pausing again
        except Exception as exc:  # a registry or API hiccup: try again at the next poll
            logger.warning("could not check the registry for version %s: %s", version, exc)


def await_approval(version: str, timeout_s: int, poll_s: int) -> dict[str, str]:
    """Wait for a decision on ``version``; returns its outcome (approved, rejected, not approved) and
    who or what decided it."""
    logger = get_run_logger()
    flow_run_id = get_run_context().flow_run.id
    deadline = time.monotonic() + timeout_s
    if approval_outcome(version) is None:
        record_approval_requested(version, str(flow_run_id), timeout_s)  # listed on the Approvals page
    done = threading.Event()
    watcher = threading.Thread(
        target=contextvars.copy_context().run,  # the run's Prefect settings and logger travel with it
        args=(_watch_registry, version, flow_run_id, poll_s, done),
        name=f"approval-watch-v{version}",
        daemon=True,
    )
    watcher.start()
    try:
        return _wait(version, timeout_s, poll_s, deadline, flow_run_id, logger)
    finally:
        done.set()
        watcher.join(timeout=poll_s + 30)


def _wait(version: str, timeout_s: int, poll_s: int, deadline: float, flow_run_id, logger) -> dict[str, str]:
    attempt = 0
    while True:
        decided = approval_outcome(version)
        if decided:
            return {"outcome": decided, "by": "the registry (ppg approve, ppg reject or the dashboard)"}
        left = deadline - time.monotonic()
        if left <= 0:
            why = f"no decision within {timeout_s} s"
            record_not_approved(version, why, str(flow_run_id))
            return {"outcome": "not approved", "by": why}
        attempt += 1
        key = f"approve-v{version}-{attempt}"
        try:
            answer = pause_flow_run(
                wait_for_input=ApprovalInput,
                timeout=max(1, int(left)),
                poll_interval=min(poll_s, 5),
                key=key,
            )
        except FlowPauseTimeout:
            _running_again(flow_run_id)
            answer = _late_answer(key, flow_run_id)
            if answer is None:
                _forget(key, flow_run_id, ("schema", "description"))
                continue
        _forget(key, flow_run_id, ("response", "schema", "description"))  # credentials are not kept
        if not answer.user:
            continue  # a wake-up (or an empty form): read the registry, pause again if still open
        try:
            outcome = resolve_with_credentials(
                version, answer.user, answer.password, answer.session_token, answer.decision, answer.reason
            )
            return {"outcome": outcome, "by": answer.user}
        except (AuthError, PromotionError, ValueError) as exc:
            logger.warning("approval input for version %s refused: %s", version, exc)
