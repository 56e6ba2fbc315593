"""The retraining configuration refuses what it cannot use, naming the field; the run's report says how
to approve while it waits."""

import pytest

from flows.retrain.config import RetrainConfig, RetrainConfigError
from flows.retrain.report import retrain_report


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"how": "search"}, r"search_config"),
        ({"how": "grid"}, r"how"),
        ({"min_new_windows": 0}, r"min_new_windows"),
        ({"approval_timeout_s": 0}, r"approval_timeout_s"),
        ({"schedules": {"retrain_every_s": 1}}, r"schedules\.retrain_every_s"),
        ({"trainer_password": "x"}, r"trainer_password"),  # secrets never live in the file
        ({"drift": {"psi_limit": -1}}, r"drift\.psi_limit"),
        # fuzzed: accepted, and found only when `ppg serve` deployed it or the 3 am run started
        ({"schedules": {"retrain_cron": "every day"}}, r"retrain_cron.*not a cron expression.*'every day'"),
        ({"schedules": {"retrain_cron": "99 * * * *"}}, r"retrain_cron.*not a cron expression"),
        ({"how": "search", "search_config": "no/such/tune.yaml"}, r"search_config: no such file"),
    ],
)
def test_a_bad_retraining_configuration_names_the_field(raw, named):
    with pytest.raises(RetrainConfigError, match=named):
        RetrainConfig.from_dict(raw, "retrain.yaml")


def test_the_example_configurations_load():
    from pathlib import Path

    examples = Path(__file__).parents[2] / "docs" / "examples"
    cfg = RetrainConfig.from_yaml(examples / "retrain.yaml")
    assert cfg.how == "champion"
    assert cfg.train is not None
    demo = RetrainConfig.from_yaml(examples / "retrain-demo.yaml")
    assert demo.force
    assert demo.schedules.retrain_every_s == 120


def test_a_search_configuration_is_checked_when_loaded_and_kept_by_its_absolute_path(tmp_path, monkeypatch):
    from pathlib import Path

    examples = Path(__file__).parents[2] / "docs" / "examples"
    monkeypatch.chdir(examples.parent.parent)
    cfg = RetrainConfig.from_dict({"how": "search", "search_config": "docs/examples/tune.yaml"})
    assert cfg.search_config == str(examples / "tune.yaml")  # the deployment may run from anywhere
    with pytest.raises(RetrainConfigError, match=r"train\.yaml: invalid search configuration: name"):
        RetrainConfig.from_dict({"how": "search", "search_config": "docs/examples/train.yaml"})


def test_the_report_of_a_waiting_run_says_how_to_approve():
    summary = {
        "flow_run": "abc",
        "champion": "3",
        "decision": {"retrain": True, "reason": "forced", "dataset": "ds-1", "base": "ds-0",
                     "new_windows": 0, "new_batches": 0, "drift": []},
        "registered": {"version": "4", "status": "challenger", "gate": ["v4: gate pass -> challenger"]},
    }  # fmt: skip
    text = retrain_report(summary, waiting=True)
    for said in ("ppg approve 4 --user YOU", "flow run `abc`", "forced", "v4: gate pass"):
        assert said in text
    ended = retrain_report(summary | {"state": "NotApproved", "message": "x"}, waiting=False)
    assert "ppg approve" not in ended
