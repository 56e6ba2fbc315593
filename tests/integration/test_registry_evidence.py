"""What a verdict is judged on: the version's pinned evaluation set, re-run by the registry itself, and
aliases decided in the registry database with MLflow as a mirror."""

from __future__ import annotations

import json

import pytest
from registry_world import assert_consistent

from registry import evaluation_set
from registry.aliases import MirrorError
from registry.gating import gate_version
from registry.promotion import PromotionError, approve, restore_mirror
from registry.registration import register_run
from registry.tracking import alias_version, client

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def ppg_home(registry_home):
    """Every test here runs on the shared lake with a fresh MLflow store and registry database."""
    return registry_home


def _register(world, people, balancer="pcgrad"):
    run, config = world.runs[balancer]
    return register_run(run, config, people["tina"])


def test_a_version_is_still_judged_on_its_own_windows_after_the_split_rule_changes(
    world, people, monkeypatch
):
    import ppg_models.training.run as run_module

    first = _register(world, people)
    pinned = evaluation_set.load(first.version)
    run, _ = world.runs["pcgrad"]
    assert set(pinned.window_ids) == set(map(str, run.report.predictions["window_id"]))

    def other_rule(config):  # a later release splits differently: every window is "test" now
        main = run_module._main_table(config)
        return {"train": main, "val": main, "test": main}

    monkeypatch.setattr(run_module, "split_tables", other_rule)
    seen = []
    original = evaluation_set.windows
    monkeypatch.setattr(evaluation_set, "windows", lambda p: seen.append(p) or original(p))
    again = gate_version(first.version, people["tina"])
    assert seen == [pinned], "the verdict loaded exactly the pinned set"
    assert again.verdict.lines == first.verdict.lines, "same windows, same model: the same verdict"


def test_the_gate_ignores_a_report_the_trainer_edited(world, people):
    from registry.versions import resolve

    first = _register(world, people)
    mv = resolve(first.version)
    edited = json.loads(json.dumps(world.runs["pcgrad"][0].report.to_dict()))
    edited["tasks"]["hr"]["metrics"]["mae"] = {"value": 0.0, "low": 0.0, "high": 0.0}
    client().log_text(mv.run_id, json.dumps(edited), "evaluation/report.json")  # overwrite the artifact

    def hr_mae(result):
        return next(line.value for line in result.verdict.lines if (line.task, line.metric) == ("hr", "mae"))

    again = gate_version(first.version, people["tina"])
    assert hr_mae(again) == hr_mae(first) > 1.0, "judged on the registry's own re-run, not the edit"
    from registry import audit

    sha = [e for e in audit.entries() if e.action == "gate"][-1].body["evidence"]["report_sha256"]
    stored = {f.path for f in client().list_artifacts(mv.run_id, "gate")}
    assert f"gate/candidate-predictions-{sha[:12]}.csv" in stored, "the re-derived report is kept, by hash"


def test_an_alias_moved_in_mlflow_stops_decisions_until_an_admin_restores_it(world, people):
    from registry import settings

    first = _register(world, people)
    second = _register(world, people, "famo")
    client().set_registered_model_alias(settings.model_name(), "champion", second.version)  # by hand
    with pytest.raises(MirrorError, match="'champion' is v2 in MLflow but vNone"):
        gate_version(first.version, people["tina"])
    with pytest.raises(MirrorError):
        approve(first.version, people["alex"])
    with pytest.raises(PromotionError, match="needs a reason"):
        restore_mirror(people["root"], " ")
    restored = restore_mirror(people["root"], "moved by a script during the migration")
    assert restored["champion"] is None
    assert alias_version(client(), "champion") is None
    assert_consistent()


def test_a_decision_cut_off_before_its_mirror_is_finished_by_the_next(world, people, monkeypatch):
    import registry.aliases as aliases_module

    first = _register(world, people)
    real_mirror = aliases_module.mirror
    monkeypatch.setattr(aliases_module, "mirror", lambda *a: (_ for _ in ()).throw(OSError("MLflow down")))
    with pytest.raises(OSError, match="MLflow down"):
        approve(first.version, people["alex"])  # committed, then the mirror failed
    assert alias_version(client(), "champion") is None
    monkeypatch.setattr(aliases_module, "mirror", real_mirror)
    gate_version(first.version, people["tina"])  # the next decision finishes the mirror first
    assert alias_version(client(), "champion") == first.version
    assert_consistent()
