"""The dashboard under Streamlit's AppTest on a real registry (two trained runs, registered, gated): every
page renders, every action works through the registry, and every refusal is shown with the registry's
words (self-approval, a rejected version, a wrong password, a missing reason, a trainer approving)."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from registry import searches
from registry.promotion import approve, reject
from registry.registration import register_run
from registry.tracking import client

pytestmark = pytest.mark.slow
APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture(autouse=True)
def ppg_home(registry_home):
    st.cache_data.clear()
    return registry_home


@pytest.fixture
def versions(world, people):
    """v1 (pcgrad, trained by tina) is champion through alex; v2 (famo, also tina's) is the challenger."""
    run, config = world.runs["pcgrad"]
    first = register_run(run, config, people["tina"])
    approve(first.version, people["alex"])
    run, config = world.runs["famo"]
    second = register_run(run, config, people["tina"])
    assert (first.version, second.version, second.status) == ("1", "2", "challenger")
    return people


def app(page: str = "Models") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["page"] = page
    return at.run()


def texts(at: AppTest) -> str:
    parts = [
        e.value
        for kind in ("markdown", "caption", "info", "success", "warning", "error")
        for e in getattr(at, kind)
    ]
    return "\n".join(str(p) for p in parts)  # fmt: skip


def sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.sidebar.text_input(key="sign_in_name").input(name)
    at.sidebar.text_input(key="sign_in_password").input(password)
    return next(b for b in at.sidebar.button if b.label == "Sign in").click().run()


def test_models_page_lists_versions_and_compares_them_on_the_gate_evidence(versions):
    at = app()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["version"]) == ["v2", "v1"]
    assert table.loc[table["version"] == "v1", "status"].item() == "champion"
    assert table.loc[table["version"] == "v2", "trained by"].item() == "tina"
    assert table.loc[table["version"] == "v1", "approved by"].item() == "alex"
    assert set(table["balancer"]) == {"pcgrad", "famo"}
    assert table["HR MAE (bpm)"].str.match(r"^[\d.]+ \[[\d.]+, [\d.]+\]$").all()
    assert at.multiselect(key="compare").value == ["v1", "v2"]  # champion and challenger by default
    metrics = at.dataframe[1].value
    hr = metrics[metrics["metric"] == "HR MAE (bpm) ★"].iloc[0]
    assert hr["v1 evidence"].endswith("windows")
    assert "subjects" in hr["v1 evidence"]
    assert any(w in hr["v2 vs champion"] for w in ("better", "worse"))
    af = metrics[metrics["metric"] == "AF AUROC ★"].iloc[0]
    assert "AF+" in af["v1 evidence"]
    assert "AF−" in af["v1 evidence"]
    words = texts(at)
    assert "v1** (champion): gate evidence: predictions re-derived by the registry" in words
    assert "v2**: gate evidence" in words
    sections = at.radio(key="compare_view")
    assert sections.options == ["Metrics", "Subgroups", "Agreement", "Training", "Task affinity", "Lineage"]
    for section in sections.options[1:]:  # each section renders on demand, without an error
        at.radio(key="compare_view").set_value(section).run()
        assert not at.exception, section
        assert not at.error, section
    assert len(at.get("graphviz_chart")) == 2  # the lineage of both versions


def test_comparison_limits_and_filters(versions):
    at = app()
    at.multiselect(key="compare").set_value(["v2"]).run()
    assert "Pick at least two versions to compare." in texts(at)
    at.multiselect(key="filter_balancer").set_value(["famo"]).run()
    assert list(at.dataframe[0].value["version"]) == ["v2"]


def test_evidence_edited_in_the_artifact_store_is_refused_not_shown(versions):
    mv = client().get_model_version("ppg-multitask", "2")
    listing = client().list_artifacts(mv.run_id, "gate")
    csv = next(f.path for f in listing if f.path.startswith("gate/candidate-predictions-"))
    local = Path(client().download_artifacts(mv.run_id, csv))
    forged = local.read_text().replace(",", ",0", 40)
    client().log_text(mv.run_id, forged, csv)
    at = app()
    assert not at.exception
    assert any(
        "v2: its evidence cannot be shown" in e.value and "differs from the hash" in e.value for e in at.error
    )


def test_verdicts_page_prints_the_cli_lines_with_the_policy(versions):
    at = app("Verdicts")
    at.selectbox(key="verdict_version").set_value("v2").run()
    assert not at.exception
    head = at.success[0].value
    assert head.startswith("version 2: gate pass -> challenger (policy v1 (activated by root")
    assert head.endswith("against champion v1)")
    lines = at.dataframe[0].value
    assert {"AF", "HR"} <= set(lines["task"])
    assert "non-inferiority (improvement)" in set(lines["check"])
    assert lines["value [95% interval]"].str.contains(r"\[").all()
    assert at.code[0].value.splitlines()[0] == head


def test_data_page_shows_runs_quarantine_drift_and_validation_reports(versions):
    at = app("Data")
    assert not at.exception
    runs = at.dataframe[0].value
    assert runs["files"].sum() == 3
    assert runs["windows accepted"].sum() > 0
    assert "No file is quarantined." in texts(at)
    assert at.selectbox(key="validation_batch").options
    assert "Download the validation report (JSON)" in [b.label for b in at.get("download_button")]


def test_tuning_page_shows_trials_and_pareto_front(versions):
    search = searches.start_search("demo", ["hr.mae", "af.auroc"], "af auroc >= 0.6", {"trials": 3})
    for hr, auroc, feasible in ((5.0, 0.9, True), (4.0, 0.8, True), (3.0, 0.5, False)):
        params = {"balancer": "famo", "lr": 1e-3}
        epochs = [{"hr.mae": hr + 1, "af.auroc": auroc - 0.1}, {"hr.mae": hr, "af.auroc": auroc}]
        searches.log_trial(search, params, epochs, "completed", feasible)
    searches.choose(search, "x", "lowest HR MAE among feasible")
    at = app("Tuning")
    assert not at.exception
    trials = at.dataframe[1].value
    assert len(trials) == 3
    assert sorted(trials.loc[trials["pareto"], "hr.mae"]) == [4.0, 5.0]  # the infeasible 3.0 never counts
    assert "2 of 3 trials feasible; 2 on the Pareto front." in texts(at)


def test_wrong_password_is_refused_with_the_message(versions):
    at = sign_in(app("Approvals"), "alex", "not-the-password")
    assert any("wrong user name or password for 'alex'" in e.value for e in at.sidebar.error)
    assert "Sign in (sidebar) as an approver" in texts(at)


def test_self_approval_is_refused_by_the_registry(world, versions):
    run, config = world.runs["famo"]
    assert register_run(run, config, versions["root"]).version == "3"  # an admin may train, too
    at = sign_in(app("Approvals"), "root", "root-password")
    at.selectbox(key="approve_version").set_value(3).run()
    at.button(key="approve").click().run()
    assert any("'root' trained version 3; a different approver must approve it" in e.value for e in at.error)


def test_a_trainer_cannot_approve(versions):
    at = sign_in(app("Approvals"), "tina", "tina-password")
    at.button(key="approve").click().run()
    assert any("user 'tina' (trainer) may not approve" in e.value for e in at.error)


def test_approve_then_roll_back_through_the_page(versions):
    at = sign_in(app("Approvals"), "ana", "ana-password-")
    at.selectbox(key="approve_version").set_value(2).run()
    at.button(key="approve").click().run()
    assert any("Approving v2 done. Champion: v2" in s.value for s in at.success), texts(at)
    at.text_input(key="rollback_reason").input("v2 misses AF episodes on site B")
    at.button(key="rollback").click().run()
    assert any("Rollback done. Champion: v1" in s.value for s in at.success)
    at.sidebar.radio(key="page").set_value("Audit").run()
    log = at.dataframe[0].value
    assert list(log["action"][:2]) == ["rollback", "approve"]
    assert "Verified" in at.success[0].value


def test_reject_needs_a_reason_and_a_rejected_version_cannot_be_approved(versions):
    at = sign_in(app("Approvals"), "ana", "ana-password-")
    at.selectbox(key="reject_version").set_value(2).run()
    at.button(key="reject").click().run()
    assert any("a rejection needs a reason" in e.value for e in at.error)
    reject("2", versions["alex"], "found in review")
    st.cache_data.clear()
    at = sign_in(app("Approvals"), "ana", "ana-password-")
    assert "No version can be promoted now." in texts(at)  # v1 is champion, v2 rejected: nothing offered


def test_a_retraining_run_waiting_for_a_decision_is_listed_until_the_registry_decides(versions):
    from registry.retraining import record_approval_requested

    assert "**Pending retraining requests:** none" in texts(app("Approvals"))
    record_approval_requested("2", "0b7c-flow-run", 7 * 24 * 3600)  # as the retrain flow does when it pauses
    st.cache_data.clear()
    at = app("Approvals")
    assert "**Pending retraining requests:** 1." in texts(at)
    listed = at.dataframe[0].value
    assert (listed["version"].tolist(), listed["flow run"].tolist()) == (["v2"], ["0b7c-flow-run"])
    at = sign_in(at, "ana", "ana-password-")
    at.selectbox(key="approve_version").set_value(2).run()
    at.button(key="approve").click().run()
    assert "**Pending retraining requests:** none" in texts(at), "the approval resolved the request"


def test_audit_page_flags_a_tag_changed_behind_the_registry(versions):
    client().set_model_version_tag("ppg-multitask", "2", "ppg.status", "champion")
    at = app("Audit")
    assert not at.exception
    assert "Verification FAILED" in at.error[0].value
    assert "ppg.status" in texts(at)


def test_no_registry_is_said_plainly(tmp_path, monkeypatch):
    monkeypatch.setenv("PPG_HOME", str(tmp_path / "nowhere"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.delenv("PPG_REGISTRY_DB")
    at = app()
    assert "does not exist: there is no registry to read" in at.error[0].value


def _count_mlflow_calls(monkeypatch) -> dict[str, int]:
    from mlflow import MlflowClient

    calls: dict[str, int] = {}
    for name in ("get_run", "search_runs", "get_metric_history", "search_model_versions"):
        original = getattr(MlflowClient, name)

        def counted(self, *args, _name=name, _original=original, **kwargs):
            calls[_name] = calls.get(_name, 0) + 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(MlflowClient, name, counted)
    return calls


def test_the_version_list_costs_no_mlflow_read_per_version(versions, monkeypatch):
    from registry import review

    calls = _count_mlflow_calls(monkeypatch)
    table = review.version_table()
    assert calls == {"search_model_versions": 1}  # the rest comes from the registry database
    assert list(table["balancer"]) == ["famo", "pcgrad"]
    assert set(table["grouping"]) == {"all shared"}
    assert table["hr"].notna().all()


def test_versions_registered_before_summaries_are_read_from_their_runs_in_batches(versions, monkeypatch):
    from sqlalchemy import delete

    from registry import review
    from registry.db import exclusive, version_summaries

    expected = review.version_table()
    with exclusive() as conn:
        conn.execute(delete(version_summaries))
    calls = _count_mlflow_calls(monkeypatch)
    legacy = review.version_table()
    assert calls.get("search_runs") == 1
    assert "get_run" not in calls
    columns = ["version", "dataset", "balancer", "grouping", "hr", "hr.low", "af"]
    assert legacy[columns].equals(expected[columns])
