"""Registration, gates, approvals, rejection, rollback and races on MLflow with the embedded stores."""

from __future__ import annotations

import pytest
from registry_world import LENIENT, assert_consistent, race

from ppg_models.training.checkpoint import ModelIntegrityError
from registry import audit
from registry.gates.policy import GatePolicy
from registry.gating import gate_version
from registry.promotion import PromotionError, approve, reject, rollback
from registry.registration import register_run
from registry.tracking import alias_version, client
from registry.versions import load_model, resolve

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def ppg_home(registry_home):
    """Every test here runs on the shared lake with a fresh MLflow store and registry database."""
    return registry_home


POLICY = GatePolicy.from_dict(LENIENT)


def _activate(people, policy):
    from registry import policies

    return policies.activate(policy, people["root"], "test")


def _register(world, people, balancer="pcgrad", who="tina", policy=None):
    if policy is not None:
        _activate(people, policy)
    run, config = world.runs[balancer]
    return register_run(run, config, people[who])


def test_register_gate_approve_compare_and_load(world, people):
    first = _register(world, people)
    assert (first.status, first.verdict.outcome, first.champion) == ("challenger", "pass", None)
    mv = resolve("challenger")
    assert mv.tags["ppg.weights_sha256"] == world.runs["pcgrad"][0].weights_sha256
    assert mv.tags["ppg.trained_by"] == "tina"
    run = client().get_run(mv.run_id)
    assert run.data.params["balancer.name"] == "pcgrad"
    assert "test.hr.mae" in run.data.metrics
    assert "train_loss.af" in run.data.metrics
    assert run.inputs.dataset_inputs[0].dataset.name == world.runs["pcgrad"][1].data.dataset
    names = {f.path for f in client().list_artifacts(mv.run_id, "plots")}
    assert {"plots/bland_altman_hr.png", "plots/roc_af.png"} <= names
    model, _ = load_model("challenger")
    assert model.tasks == world.runs["pcgrad"][0].training.model.tasks
    approve(first.version, people["alex"])
    second = _register(world, people, "famo")
    assert second.champion == first.version
    assert any(line.kind == "non_inferiority" and line.task == "af" for line in second.verdict.lines)
    from registry.overview import compare, list_versions

    rows = list_versions()
    assert [(r["version"], r["alias"]) for r in rows] == [
        (first.version, "champion"),
        (second.version, "challenger"),
    ]
    table = compare(first.version, second.version)
    assert table["same_windows"]
    assert {r["task"] for r in table["rows"]} == {"hr", "spo2", "rr", "sbp", "dbp", "af"}
    assert_consistent()


def test_the_trainer_cannot_approve_their_own_model(world, people):
    mine = _register(world, people, who="root")  # admins may both register and approve, but not their own
    with pytest.raises(PromotionError, match="'root' trained version"):
        approve(mine.version, people["root"])
    with pytest.raises(PromotionError, match="one created the other's account"):
        approve(mine.version, people["alex"])  # root created alex's account


def test_four_eyes_hold_across_accounts_an_admin_creates(world, people):
    from registry import audit
    from registry.users import AuthError, User, add_user, authenticate

    add_user("root2", "admin", "second-admin-pw", people["root"])  # one person, a second account
    mine = _register(world, people, who="root")
    with pytest.raises(PromotionError, match="not independent"):
        approve(mine.version, authenticate("root2", "second-admin-pw"))
    for forged in (User("ghost", "approver"), User("alex", "admin"), User("ana", "approver", "made-up")):
        with pytest.raises(AuthError, match="no valid login session"):
            approve(mine.version, forged)
    assert ("root", "add-user") in [(e.actor, e.action) for e in audit.entries()]
    assert_consistent()


def test_a_rejected_version_can_never_be_promoted(world, people):
    by_person = _register(world, people)
    reject(by_person.version, people["alex"], "Bland-Altman shows a drift above 120 bpm")
    with pytest.raises(PromotionError, match="rejected and can never be promoted"):
        approve(by_person.version, people["ana"])
    strict = GatePolicy.from_dict(
        LENIENT
        | {
            "tasks": LENIENT["tasks"]
            | {"hr": LENIENT["tasks"]["hr"] | {"thresholds": [{"metric": "mae", "max": 0.1}]}}
        }
    )
    by_gate = _register(world, people, "famo", policy=strict)
    assert by_gate.status == "rejected-by-gate"
    assert any("hr (all) mae" in r for r in by_gate.verdict.reasons())
    _activate(people, POLICY)
    again = gate_version(by_gate.version, people["alex"])
    assert again.verdict.outcome == "pass"
    assert again.status == "rejected-by-gate", "a later passing verdict does not undo a gate rejection"
    with pytest.raises(PromotionError, match="can never be promoted"):
        approve(by_gate.version, people["alex"])
    assert_consistent()


def test_approval_needs_a_passing_verdict_under_the_current_policy_and_champion(world, people):
    a = _register(world, people)
    tighter = _activate(people, GatePolicy.from_dict(LENIENT | {"resamples": 300}))
    with pytest.raises(PromotionError, match=f"judged under policy v1, but policy v{tighter.version}"):
        approve(a.version, people["alex"])
    assert gate_version(a.version, people["ana"]).policy == tighter.label
    b = _register(world, people, "famo")
    approve(a.version, people["alex"])
    with pytest.raises(PromotionError, match="judged against no champion, but there is champion v1 now"):
        approve(b.version, people["alex"])
    regated = gate_version(b.version, people["alex"])
    assert regated.champion == a.version
    approve(b.version, people["alex"])
    assert alias_version(client(), "champion") == b.version
    assert_consistent()


def test_rollback_restores_the_previous_champion(world, people):
    a = _register(world, people)
    approve(a.version, people["alex"])
    b = _register(world, people, "famo")
    approve(b.version, people["ana"])
    after = rollback(people["alex"], "AF alarms in the field")
    assert after["champion"] == a.version
    assert resolve(b.version).tags["ppg.status"] == "rolled-back"
    assert resolve(a.version).tags["ppg.status"] == "champion"
    with pytest.raises(PromotionError, match="no previous champion"):
        rollback(people["alex"], "again")
    actions = [e.action for e in audit.entries()]
    assert actions[-1] == "rollback"
    assert_consistent()


def test_loading_refuses_a_bundle_whose_spec_was_edited(world, people):
    import json
    from pathlib import Path
    from urllib.parse import urlparse

    a = _register(world, people)
    uri = client().get_run(resolve(a.version).run_id).info.artifact_uri
    manifest = Path(urlparse(uri).path) / "bundle" / "model.json"
    spec = json.loads(manifest.read_text())
    spec["spec"]["label_mean"]["hr"] += 40  # +40 bpm on every estimate, weights untouched
    manifest.write_text(json.dumps(spec))
    with pytest.raises(ModelIntegrityError, match="a file of its bundle"):
        load_model(a.version)


def test_rollback_never_returns_to_a_rejected_version(world, people):
    a = _register(world, people)
    approve(a.version, people["alex"])
    b = _register(world, people, "famo")
    approve(b.version, people["ana"])
    reject(a.version, people["alex"], "AF misses on the night shift data")
    with pytest.raises(PromotionError, match="no previous champion that may still serve"):
        rollback(people["alex"], "field report")
    assert alias_version(client(), "champion") == b.version
    assert_consistent()


def test_a_rejected_champion_stops_serving(world, people):
    a = _register(world, people)
    approve(a.version, people["alex"])
    b = _register(world, people, "famo")
    approve(b.version, people["ana"])
    after = reject(b.version, people["alex"], "a recall")
    assert after["champion"] == a.version, "the previous champion that may serve takes over"
    after = reject(a.version, people["ana"], "the same defect")
    assert after["champion"] is None, "with none left, there is no champion"
    assert alias_version(client(), "champion") is None
    assert_consistent()


def test_version_numbers_are_canonical_in_every_decision(world, people):
    a = _register(world, people)
    approve(f"0{a.version}", people["alex"])
    assert alias_version(client(), "champion") == a.version
    with pytest.raises(PromotionError, match="already the champion"):
        approve(f"v{a.version}", people["ana"])
    with pytest.raises(PromotionError, match="already the champion"):
        approve(f"00{a.version}", people["ana"])


def test_loading_refuses_weights_changed_in_the_artifact_store(world, people):
    from pathlib import Path
    from urllib.parse import urlparse

    a = _register(world, people)
    uri = client().get_run(resolve(a.version).run_id).info.artifact_uri
    weights = Path(urlparse(uri).path) / "bundle" / "weights.pt"
    weights.write_bytes(weights.read_bytes()[:-8] + b"\x00" * 8)
    with pytest.raises(ModelIntegrityError, match="differs from the registered"):
        load_model(a.version)


def test_racing_approvals_and_registrations_stay_consistent(world, people):
    base = _register(world, people)
    approve(base.version, people["alex"])
    results, errors = race(*[(_register, world, people, b) for b in ("pcgrad", "famo")])
    assert not errors, errors
    versions = sorted(r.version for r in results)
    assert len(set(versions)) == 2
    assert alias_version(client(), "challenger") in versions
    calls = [(approve, v, people[p]) for v, p in zip(versions, ("alex", "ana"), strict=True)]
    results, errors = race(*calls)
    assert len(results) == 1, "exactly one approval wins"
    assert len(errors) == 1
    assert isinstance(errors[0], PromotionError), errors
    assert "re-judge" in str(errors[0])
    assert alias_version(client(), "champion") in versions
    assert_consistent()


def test_predict_with_a_registered_version_from_the_command_line(world, people, tmp_path):
    from typer.testing import CliRunner

    from flows.cli import app

    _register(world, people)
    batch = next((world.home / "lake" / "accepted").glob("*/batch.parquet"))
    out = tmp_path / "estimates.csv"
    result = CliRunner().invoke(app, ["predict", str(batch), "--registered", "challenger", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "weights SHA-256 verified" in result.stdout
    assert out.read_text().startswith("recording,window_id,start,end,")
    missing = CliRunner().invoke(app, ["predict", str(batch), "--registered", "champion"])
    assert missing.exit_code == 1
    assert "no version 'champion'" in missing.output


def test_an_alias_moved_behind_the_registrys_back_is_reported(world, people):
    from registry import settings
    from registry.integrity import problems as alias_problems

    a = _register(world, people)
    assert alias_problems() == []
    client().set_registered_model_alias(settings.model_name(), "champion", a.version)  # no approval, no audit
    problems = alias_problems()
    assert len(problems) == 1
    assert "'champion'" in problems[0]
    assert "outside the registry" in problems[0]


def test_status_tags_written_with_the_mlflow_client_decide_nothing(world, people):
    """A rejected version's ppg.status, gate outcome and policy hash forged in MLflow: approve refuses,
    naming the tag; audit verify reports it; restoring the mirror puts the decided values back."""
    from registry import policies, settings
    from registry.aliases import MirrorError
    from registry.integrity import problems
    from registry.promotion import restore_mirror

    v = _register(world, people)
    reject(v.version, people["alex"], "drift in the Bland-Altman plot")
    forged = {
        "ppg.status": "challenger",
        "ppg.gate.outcome": "pass",
        "ppg.gate.policy_sha256": policies.current().sha256,
    }
    for key, value in forged.items():
        client().set_model_version_tag(settings.model_name(), v.version, key, value)
    with pytest.raises(
        MirrorError, match=r"MLflow tag ppg\.status is 'challenger' but the registry decided 'rejected'"
    ):
        approve(v.version, people["ana"])
    assert any("ppg.status" in p for p in problems())
    restore_mirror(people["root"], "tags edited by a notebook")
    assert resolve(v.version).tags["ppg.status"] == "rejected"
    with pytest.raises(PromotionError, match="rejected and can never be promoted"):
        approve(v.version, people["ana"])
    assert_consistent()


def test_gating_needs_a_login_and_the_verdict_names_the_policy_version(world, people):
    from registry.users import AuthError, User

    a = _register(world, people)
    for forged in (User("ghost", "approver"), User("alex", "approver", "made-up-token")):
        with pytest.raises(AuthError, match="no valid login session"):
            gate_version(a.version, forged)
    again = gate_version(a.version, people["ana"])
    assert again.policy.startswith("policy v1 (activated by root")
    gates = [e for e in audit_entries() if e.action == "gate"]
    assert gates[-1].actor == "ana"
    assert gates[-1].body["evidence"]["policy_version"] == 1


def test_policies_are_registry_objects_activated_by_admins(world, people, monkeypatch):
    from registry import policies
    from registry.gates.policy import GatePolicyError
    from registry.users import AuthError

    with pytest.raises(AuthError, match="may not manage_policy"):
        policies.activate(GatePolicy.from_dict(LENIENT | {"seed": 3}), people["alex"], "I prefer it")
    with pytest.raises(GatePolicyError, match="already in force"):
        policies.activate(GatePolicy.from_dict(LENIENT), people["root"], "again")
    monkeypatch.setenv("PPG_GATE_POLICY", "/tmp/anything-goes.yaml")
    with pytest.raises(GatePolicyError, match="PPG_GATE_POLICY is not read"):
        _register(world, people)
    monkeypatch.delenv("PPG_GATE_POLICY")
    activated = [e for e in audit_entries() if e.action == "activate-policy"]
    assert [(e.actor, e.body["evidence"]["policy_version"]) for e in activated] == [("root", 1)]
    assert [p.version for p in policies.history()] == [0, 1]


def test_role_changes_are_audited_and_four_eyes_follow_the_line_of_account_creation(world, people):
    from registry.users import AuthError, add_user, authenticate, set_role

    with pytest.raises(AuthError, match="may not change their own role"):
        set_role("root", "trainer", people["root"])
    set_role("tina", "admin", people["root"])
    assert ("root", "set-role") in [(e.actor, e.action) for e in audit_entries()]
    tina = authenticate("tina", "tina-password")
    add_user("tina-approver", "approver", "second-account-pw", tina)  # tina's second account
    add_user("tina-admin", "admin", "third-account-pw", tina)
    third = authenticate("tina-admin", "third-account-pw")
    add_user("tina-approver-2", "approver", "fourth-account-pw", third)  # two steps down from tina
    mine = _register(world, people, who="tina")
    for name, password in (("tina-approver", "second-account-pw"), ("tina-approver-2", "fourth-account-pw")):
        with pytest.raises(PromotionError, match="not independent"):
            approve(mine.version, authenticate(name, password))
    set_role("tina", "trainer", people["root"])
    approve(mine.version, people["alex"])  # root created both tina's and alex's accounts: siblings may
    assert alias_version(client(), "champion") == mine.version
    assert_consistent()


def audit_entries():
    from registry import audit

    return audit.entries()


def test_an_empty_registry_database_cannot_take_over_a_used_registry(world, people, tmp_path, monkeypatch):
    from registry.integrity import problems
    from registry.users import AuthError, add_user

    _register(world, people)
    monkeypatch.setenv("PPG_REGISTRY_DB", f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(AuthError, match=r"refusing to create a first admin: MLflow at .* holds 1 registered"):
        add_user("mallory", "admin", "mallory-password", None)
    found = problems()
    assert "the audit log is empty but 1 versions are registered" in found
    assert any("MLflow's head tag says" in p for p in found)


def test_the_registered_pyfunc_model_serves_bare_windows(world, people):
    """MLflow's own loader serves a version on windows without recording times (no signature errors)."""
    import mlflow
    import numpy as np
    import pandas as pd

    from ppg_models.tasks import TASK_NAMES

    version = _register(world, people).version
    client()  # points MLflow's fluent API at this test's store
    model = mlflow.pyfunc.load_model(f"models:/ppg-multitask/{version}")
    t = np.arange(1250) / 125
    pulse = (30000 - 300 * np.sin(2 * np.pi * 1.2 * t)).tolist()
    out = model.predict(pd.DataFrame({"window_id": ["w1"], "fs": [125.0], "red": [pulse], "ir": [pulse]}))
    assert list(out["window_id"]) == ["w1"]
    assert set(TASK_NAMES) <= set(out.columns)
    assert pd.isna(out["start"].iloc[0])
