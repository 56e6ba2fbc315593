"""The `retrain` flow on a Prefect server: it decides, trains, registers and gates, then waits for a person.

One lake and registry for the module, run after run: an approval that times out ends "not approved"; a
forced rerun registers nothing twice, refuses wrong credentials in the flow's input and is approved by
the right ones; a run with nothing new does not retrain; an approval given in the registry (as by
`ppg approve` or the dashboard) resolves the waiting run. Each decision is in the audit log."""

from __future__ import annotations

import threading
import time

import pytest
from tune_world import small_lake, tiny_base

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def retrain_home(tmp_path_factory):
    from prefect.testing.utilities import prefect_test_harness

    home = tmp_path_factory.mktemp("retrain-home")
    mp = pytest.MonkeyPatch()
    for k, v in {
        "PPG_HOME": str(home),
        "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
        "PPG_REGISTRY_DB": f"sqlite:///{home / 'registry.db'}",
        "PPG_RETRAIN_PASSWORD": "tina-password",
    }.items():
        mp.setenv(k, v)
    try:
        small_lake(home)
        from registry.users import add_user, authenticate

        add_user("alex", "approver", "alex-password", authenticate("root", "root-password"))
        with prefect_test_harness(server_startup_timeout=120):
            yield home
    finally:
        mp.undo()


@pytest.fixture(autouse=True)
def ppg_home(retrain_home):  # the module's home, not a fresh one per test
    return retrain_home


def _config(**over):
    from flows.retrain.config import RetrainConfig

    raw = {
        "train": tiny_base(epochs=1),
        "trainer": "tina",
        "min_new_windows": 100,
        "approval_timeout_s": 120,
        "approval_poll_s": 2,
    }
    return RetrainConfig.model_validate(raw | over)


def _start(config, force=False):
    from flows.retrain.flow import retrain

    box = {}
    thread = threading.Thread(
        target=lambda: box.update(state=retrain(config=config, force=force, return_state=True)), daemon=True
    )
    thread.start()
    return thread, box


def _paused_run(timeout=300):
    """The id of the flow run waiting for an approval."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            paused = FlowRunFilterStateType(any_=[StateType.PAUSED])
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=paused)),
                sort=FlowRunSort.START_TIME_DESC,
                limit=5,
            )
            if runs:
                return runs[0].id
            time.sleep(0.5)
    raise AssertionError("no run paused for an approval")


def _send(run_id, **given):
    from flow_answers import answer

    answer(run_id, given)


def _verified():
    """`ppg audit verify` finds nothing wrong: the flow's own entries carry the aliases on."""
    from registry.integrity import problems

    assert problems() == []


def _audit_actions():
    from registry import audit

    return [(e.actor, e.action, e.version) for e in audit.entries()]


def test_an_approval_that_never_comes_ends_not_approved():
    thread, box = _start(_config(approval_timeout_s=4))
    thread.join(600)
    state = box["state"]
    summary = state.result()
    assert state.name == "NotApproved", state.message
    assert summary["decision"]["reason"].startswith("no champion")
    assert summary["registered"]["status"] == "challenger"
    assert summary["approval"]["outcome"] == "not approved"
    version = summary["registered"]["version"]
    assert ("retrain-flow", "approval-not-given", version) in _audit_actions()
    assert ("retrain-flow", "retrain-decision", None) in _audit_actions()
    _verified()


def test_the_flow_input_is_checked_by_the_registry_and_nothing_is_registered_twice():
    from registry.promotion import decided_aliases
    from registry.retraining import pending_requests
    from registry.versions import all_versions

    before = len(all_versions())
    thread, box = _start(_config(), force=True)
    run_id = _paused_run()
    asked = pending_requests()
    assert [r["flow_run"] for r in asked] == [str(run_id)], "the waiting run is listed (Approvals page)"
    _send(run_id, user="alex", password="wrong-password", decision="approve")  # refused: waits on
    run_id = _paused_run()
    _send(run_id, user="tina", password="tina-password", decision="approve")  # a trainer may not approve
    run_id = _paused_run()
    _send(run_id, user="alex", password="alex-password", decision="approve")
    thread.join(600)
    state, summary = box["state"], box["state"].result()
    assert state.name == "Completed", state.message
    assert summary["decision"]["reason"] == "forced"
    assert len(all_versions()) == before  # the same weights: the registration was not repeated
    version = summary["registered"]["version"]
    assert summary["approval"] == {"outcome": "approved", "by": "alex"}
    assert decided_aliases()["champion"] == version
    assert ("alex", "approve", version) in _audit_actions()
    assert pending_requests() == [], "the approval closed the request"
    _verified()

    from prefect import get_client

    with get_client(sync_client=True) as client:  # the credentials were not kept in Prefect
        stored = client.filter_flow_run_input(run_id, key_prefix="paused-", limit=100, exclude_keys=set())
    assert not [i.key for i in stored], "every pause's input (credentials, form schema) is deleted once read"


def test_nothing_new_no_retrain_then_new_data_and_an_approval_in_the_registry():
    from lake_helpers import clean_batch, write_good

    from ppg_models.lake.store import Lake
    from registry.promotion import approve, decided_aliases
    from registry.users import authenticate

    state = _start(_config())
    state[0].join(600)
    assert state[1]["state"].name == "NoRetrain"
    assert "below 100" in state[1]["state"].message

    write_good(clean_batch("wearable", 7, 120), Lake().incoming / "new-wearable.parquet")
    thread, box = _start(_config(drift=None))
    _paused_run()
    from registry.versions import resolve

    waiting = resolve("challenger").version
    approve(str(waiting), authenticate("alex", "alex-password"))  # as `ppg approve` or the dashboard would
    thread.join(600)
    state, summary = box["state"], box["state"].result()
    assert state.name == "Completed", state.message
    assert summary["ingest"]["counts"]["accepted"] == 1
    assert "windows accepted since" in summary["decision"]["reason"]
    assert summary["approval"]["outcome"] == "approved"
    assert decided_aliases()["champion"] == str(waiting)
    _verified()
