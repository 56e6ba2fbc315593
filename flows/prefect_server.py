"""The Prefect server app our commands start (``uvicorn --factory flows.prefect_server:create_app``):
Prefect's own, with one fix for the stack we pin.

Prefect 3.8.8 inserts scheduled flow runs with an ORM bulk INSERT whose rows carry ``state``, a hybrid
property of ``FlowRun``. SQLAlchemy 2.1 refuses that ("Can't evaluate bulk DML statement; please
supply a bulk_dml decorated function"), so its scheduler creates no run for any schedule, and served
deployments never run. The fix leaves ``state`` out of the FlowRun rows only; Prefect inserts each
run's state row itself from the same dictionaries, as before.
"""

from __future__ import annotations

from typing import Any

SCHEDULED_RUN_KEYS = ("idempotency_key", "state", "next_scheduled_start_time")  # the rows the bug is about


class _SessionWithoutHybridState:
    """A session whose bulk inserts of scheduled flow runs leave out the hybrid ``state``."""

    def __init__(self, session: Any) -> None:
        self._session = session

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    async def execute(self, statement: Any, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        if isinstance(params, list) and params and all(k in params[0] for k in SCHEDULED_RUN_KEYS):
            params = [{k: v for k, v in row.items() if k != "state"} for row in params]
        return await self._session.execute(statement, params, *args, **kwargs)


def patch_scheduled_run_insert() -> None:
    import prefect.server.models.deployments as deployments

    original = deployments._insert_scheduled_flow_runs
    if getattr(original, "_ppg_fixed", False):
        return

    async def insert_scheduled_flow_runs(session: Any, runs: list[dict[str, Any]]):
        return await original(session=_SessionWithoutHybridState(session), runs=runs)

    insert_scheduled_flow_runs._ppg_fixed = True  # type: ignore[attr-defined]
    deployments._insert_scheduled_flow_runs = insert_scheduled_flow_runs


def create_app(*args: Any, **kwargs: Any):
    patch_scheduled_run_insert()
    from prefect.server.api.server import create_app as prefect_app

    return prefect_app(*args, **kwargs)
