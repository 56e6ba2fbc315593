"""Predictions refuse the impossible: out-of-range estimates, SpO2 without physical levels and poor
windows are withheld with a reason; rows carry times and a quality score; recordings can be cut with
overlapping windows on the command line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
from typer.testing import CliRunner

from flows.cli import app
from ppg_models.data.arrays import to_list_array, to_matrix
from ppg_models.data.exports import apply_export
from ppg_models.inference import predict_table
from ppg_models.sim.simulate import simulate_batch
from ppg_models.training.checkpoint import save_bundle


def test_impossible_estimates_are_withheld_with_the_reason(small_model, monkeypatch):
    model = small_model()
    table = simulate_batch("icu", 3, 0, 6)
    absurd = {"hr": -208.0, "spo2": 97.0, "rr": 14.0, "sbp": -162.0, "dbp": -205.0, "af": 0.1}
    monkeypatch.setattr(
        type(model), "predict", lambda self, inputs: {t: np.full(6, v) for t, v in absurd.items()}
    )
    result = predict_table(model, table).estimates
    assert result[["hr", "sbp", "dbp"]].isna().all().all()
    assert (result["spo2"] == 97.0).all()
    assert "hr: estimate -208 bpm outside 25-250" in result["reasons"].iloc[0]
    assert "sbp: estimate -162 mmHg outside" in result["reasons"].iloc[0]
    assert result["quality"].between(0, 1).all()
    assert (result["end"] - result["start"]).dt.total_seconds().round(3).eq(10.0).all()


def test_spo2_is_withheld_without_physical_levels_and_a_flat_window_is_poor(small_model):
    model = small_model()
    table = apply_export(simulate_batch("icu", 3, 0, 6), "ac_coupled")
    flat = np.full((1, to_matrix(table.column("ir")).shape[1]), 1000.0)
    ir = to_matrix(table.column("ir"))
    ir[0] = flat
    table = table.set_column(table.schema.get_field_index("ir"), table.schema.field("ir"), to_list_array(ir))
    prediction = predict_table(model, table)
    result = prediction.estimates
    assert result["spo2"].isna().all()
    assert "spo2: no physical DC level on red/ir (AC-coupled or rescaled)" in result["reasons"].iloc[1]
    assert "poor signal" in result["reasons"].iloc[0]
    assert np.isnan(result["hr"].iloc[0])
    assert "6 have no physical DC level" in prediction.not_estimated["spo2"]


def _recording_csv(path, seconds: int = 30):
    table = simulate_batch("wearable", 4, 0, seconds // 10)
    ir = to_matrix(table.column("ir")).ravel()
    fs = float(table.column("fs").to_numpy()[0])
    pd.DataFrame({"time": np.arange(ir.size) / fs, "ir": ir}).to_csv(path, index=False)


def test_predict_cuts_a_recording_into_overlapping_windows_that_line_up(tmp_path, small_model):
    model_dir = tmp_path / "model"
    save_bundle(small_model(), model_dir)
    csv = tmp_path / "watch.csv"
    _recording_csv(csv)
    result = CliRunner().invoke(
        app, ["predict", str(csv), "--model", str(model_dir), "--hop", "5", "--json"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["estimates"]
    assert [r["offset_s"] for r in rows] == [0.0, 5.0, 10.0, 15.0, 20.0]
    assert {r["recording"] for r in rows} == {"watch.csv"}
    assert all(r["spo2"] is None for r in rows), "one channel: no SpO2"
    refused = CliRunner().invoke(app, ["predict", str(tmp_path), "--model", str(model_dir), "--hop", "5"])
    assert refused.exit_code == 2
    assert "batch files are already cut" in refused.output


def test_baselines_on_unlabeled_batches_give_per_window_estimates(tmp_path):
    from ppg_models.data.batch_io import write_batch
    from ppg_models.tasks import TASK_NAMES

    table = simulate_batch("icu", 5, 0, 4)
    for task in TASK_NAMES:
        i = table.schema.get_field_index(task)
        table = table.set_column(i, table.schema.field(i), pa.nulls(4, table.schema.field(i).type))
    write_batch(table, tmp_path / "unlabeled.parquet")
    result = CliRunner().invoke(app, ["baselines", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    estimates = json.loads(result.stdout)["estimates"]
    assert len(estimates) == 4
    assert all(30 < row["hr"] < 220 for row in estimates)
    text = CliRunner().invoke(app, ["baselines", str(tmp_path)])
    assert "per-window DSP estimates" in text.output


def test_baselines_read_a_csv_recording_like_predict_does(tmp_path):
    csv = tmp_path / "watch.csv"
    _recording_csv(csv, seconds=30)
    result = CliRunner().invoke(app, ["baselines", str(csv), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [row["window_id"] for row in out["estimates"]] == [f"recording-watch-w{i:05d}" for i in range(3)]
    assert all(30 < row["hr"] < 220 for row in out["estimates"])
    assert all(row["spo2"] is None for row in out["estimates"]), "one channel: no SpO2"


def test_a_window_of_noise_gets_no_estimate_whatever_the_model_says(small_model):
    table = simulate_batch("icu", 3, 0, 6)
    ir, red = to_matrix(table.column("ir")), to_matrix(table.column("red"))
    rng = np.random.default_rng(1)
    ir[0] = rng.standard_normal(ir.shape[1])  # the sensor off the skin: electronic noise only
    red[0] = rng.standard_normal(red.shape[1])
    ir[1] = np.round(30000 + 0.7 * rng.standard_normal(ir.shape[1]))  # flat, converter noise only
    for name, values in (("ir", ir), ("red", red)):
        i = table.schema.get_field_index(name)
        table = table.set_column(i, table.schema.field(i), to_list_array(values))
    prediction = predict_table(small_model(), table)
    result = prediction.estimates
    assert result.loc[:1, ["hr", "rr", "af", "sbp", "dbp"]].isna().all().all()
    for row in (0, 1):
        assert "ir pulse_snr_db" in result["reasons"].iloc[row]
    assert not result["reasons"].iloc[2:].str.contains("pulse_snr_db").any()
    assert (result["quality"].iloc[:2] < 0.1).all()
    assert "2 failed the quality checks" in prediction.not_estimated["hr"]
