"""`ppg train --config` and `ppg predict` from files, as a user runs them."""

import json

import pyarrow as pa
import pytest
import yaml
from typer.testing import CliRunner

from flows.cli import app
from ppg_models.data.batch_io import read_batch, write_batch
from ppg_models.evaluation.report import EvaluationReport

runner = CliRunner()


@pytest.fixture
def config_file(tmp_path, small_backbone):
    """A factory of small training configuration files: ``config_file(affinity_every=2)``."""
    return lambda **extra: _config(tmp_path, small_backbone, **extra)


def _config(tmp_path, backbone: dict, **extra):
    runner.invoke(
        app, ["simulate", str(tmp_path / "data"), "--batches", "3", "--windows", "120", "--seed", "2"]
    )
    cfg = {
        "data": {"paths": [str(tmp_path / "data")]},
        "model": {"backbone_params": backbone},
        "optim": {"epochs": 1, "batch_size": 32},
        "balancer": {"name": "famo", "protected": "af"},
        "bootstrap": 50,
        "out_dir": str(tmp_path / "run"),
        **extra,
    }
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_train_writes_bundle_config_and_report_then_predict_uses_it(tmp_path, config_file):
    result = runner.invoke(app, ["train", "--config", str(config_file()), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # MLflow may log to stderr
    run = tmp_path / "run"
    for name in (
        "model/model.json",
        "model/weights.pt",
        "config.yaml",
        "report.json",
        "history.json",
        "checkpoints/last.pt",
    ):
        assert (run / name).is_file(), name
    report = EvaluationReport.from_json(run / "report.json")
    assert set(report.tasks) == {"hr", "spo2", "rr", "sbp", "dbp", "af"}
    assert summary["splits"]["test"] == len(report.predictions["window_id"])
    assert len(summary["weights_sha256"]) == 64

    batch = read_batch(tmp_path / "data" / "icu-s2-b0000.parquet").slice(0, 5)
    no_red = batch.set_column(batch.schema.get_field_index("red"), "red", pa.nulls(5, pa.list_(pa.float32())))
    write_batch(no_red, tmp_path / "no_red.parquet")
    out = tmp_path / "est.csv"
    pred = runner.invoke(
        app, ["predict", str(tmp_path / "no_red.parquet"), "--model", str(run / "model"), "-o", str(out)]
    )
    assert pred.exit_code == 0, pred.output
    assert "spo2 not estimated for 5 of 5 windows: 5 lack red and ir" in pred.output
    rows = out.read_text().splitlines()
    assert rows[0] == "recording,window_id,start,end,offset_s,quality,hr,spo2,rr,sbp,dbp,af,reasons"
    assert len(rows) == 6


def test_train_with_a_bad_config_field_fails_naming_it(tmp_path, config_file):
    path = config_file(optim={"epochs": -1})
    result = runner.invoke(app, ["train", "--config", str(path)])
    assert result.exit_code == 1
    assert "optim.epochs" in result.output


def test_a_bad_strategy_parameter_is_one_line_naming_the_field(tmp_path, config_file):
    path = config_file(balancer={"name": "pcgrad", "params": {"lr": 1}})
    result = runner.invoke(app, ["train", "--config", str(path)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "balancer.params" in lines[0]
    assert "unknown parameter 'lr'" in lines[0]
    assert "takes: seed" in lines[0]
    assert not (tmp_path / "run").exists(), "refused before any work"


def test_predict_refuses_a_tampered_model(tmp_path, config_file):
    runner.invoke(app, ["train", "--config", str(config_file())])
    weights = tmp_path / "run" / "model" / "weights.pt"
    weights.write_bytes(weights.read_bytes()[:-10] + b"0123456789")
    result = runner.invoke(
        app, ["predict", str(tmp_path / "data"), "--model", str(tmp_path / "run" / "model")]
    )
    assert result.exit_code == 1
    assert "does not match the manifest" in result.output


def test_groupings_from_the_affinity_a_run_measured(tmp_path, config_file):
    runner.invoke(app, ["train", "--config", str(config_file(affinity_every=2))])
    result = runner.invoke(app, ["groupings", str(tmp_path / "run"), "--groups", "3", "--top", "2", "--json"])
    assert result.exit_code == 0, result.output
    proposals = json.loads(result.output)
    assert len(proposals) == 2
    assert all(len(p["groups"]) == 3 for p in proposals)
    assert proposals[0]["score"] >= proposals[1]["score"]
    too_many = runner.invoke(app, ["groupings", str(tmp_path / "run"), "--groups", "9"])
    assert too_many.exit_code == 2


def test_train_prints_progress_lines_when_not_on_a_terminal(tmp_path, config_file):
    result = runner.invoke(app, ["train", "--config", str(config_file())])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    first_step = next(i for i, line in enumerate(lines) if "step 1/" in line)
    first_epoch = next(i for i, line in enumerate(lines) if "validation loss" in line)
    assert lines[0].startswith("loading and splitting")
    assert first_step < first_epoch, "something is printed before the first epoch ends"
