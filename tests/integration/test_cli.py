"""The `ppg` command line: sub-commands, --json output and exit codes on bad input."""

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from flows.cli import app
from ppg_models.data.batch_io import read_batch

runner = CliRunner()


def test_help_lists_the_sub_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in ("simulate", "import", "baselines", "tasks", "demo"):
        assert name in result.output


def test_simulate_writes_conforming_batches_and_reports_json(tmp_path):
    result = runner.invoke(
        app, ["simulate", str(tmp_path), "--batches", "2", "--windows", "30", "--seed", "4", "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["windows"] == 60
    assert len(payload["files"]) == 2
    assert read_batch(payload["files"][1]).column("source")[0].as_py() == "wearable"


def test_simulate_unknown_source_fails_with_the_known_ones(tmp_path):
    result = runner.invoke(app, ["simulate", str(tmp_path), "--source", "mars"])
    assert result.exit_code == 2
    assert "known sources: icu, wearable, sleep-lab" in result.output


def test_a_negative_seed_or_a_window_under_2_s_is_refused_by_the_option(tmp_path):
    """Fuzzed: `--seed -5` ended in numpy's traceback, `import csv --window 0` in ZeroDivisionError."""
    for args in (["simulate", str(tmp_path), "--seed", "-5"], ["demo", "--seed", "-1"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "--seed" in result.output
    csv = tmp_path / "r.csv"
    pd.DataFrame({"time": np.arange(3000) / 125, "pleth": np.sin(np.arange(3000) / 10)}).to_csv(csv)
    args = ["import", "csv", str(csv), "-o", str(tmp_path / "o.parquet"), "--source", "s", "--device", "d"]
    result = runner.invoke(app, [*args, "--window", "0"])
    assert result.exit_code == 2, result.output
    assert "--window" in result.output


def test_baselines_json_and_table(tmp_path):
    runner.invoke(app, ["simulate", str(tmp_path), "--batches", "2", "--windows", "60"])
    result = runner.invoke(app, ["baselines", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output)
    assert {s["task"] for s in scores} == {"hr", "spo2", "rr", "af"}
    table = runner.invoke(app, ["baselines", str(tmp_path)])
    assert "| hr | mae (bpm) |" in table.output


def test_baselines_on_a_bad_file_names_it_and_fails(tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet")
    result = runner.invoke(app, ["baselines", str(bad)])
    assert result.exit_code == 1
    assert "bad.parquet" in result.output
    assert "not a readable Parquet file" in result.output
    missing = runner.invoke(app, ["baselines", str(tmp_path / "nope")])
    assert missing.exit_code == 2


def test_import_csv_end_to_end(tmp_path):
    t = np.arange(3000) / 125
    pd.DataFrame({"time": t, "Pleth": 1000 + np.sin(2 * np.pi * 1.2 * t)}).to_csv(
        tmp_path / "r.csv", index=False
    )
    out = tmp_path / "r.parquet"
    result = runner.invoke(
        app,
        [
            "import",
            "csv",
            str(tmp_path / "r.csv"),
            "-o",
            str(out),
            "--source",
            "clinic",
            "--device",
            "x1",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["windows"] == 2
    table = read_batch(out)
    assert table.column("subject_id")[0].as_py() == "r"
    assert table.column("ir").null_count == 0
    assert table.column("red").null_count == 2


def test_import_csv_with_a_channel_map_and_a_bad_map(tmp_path):
    t = np.arange(1300) / 125
    pd.DataFrame({"time": t, "sensor_a": np.sin(t)}).to_csv(tmp_path / "c.csv", index=False)
    args = [
        "import",
        "csv",
        str(tmp_path / "c.csv"),
        "-o",
        str(tmp_path / "c.parquet"),
        "--source",
        "s",
        "--device",
        "d",
    ]
    assert runner.invoke(app, args).exit_code == 1  # no recognisable channel
    assert runner.invoke(app, [*args, "--channel", "sensor_a"]).exit_code == 2
    assert runner.invoke(app, [*args, "--channel", "sensor_a=ir"]).exit_code == 0


def test_tasks_json_is_the_catalogue():
    result = runner.invoke(app, ["tasks", "--json"])
    assert [t["name"] for t in json.loads(result.output)] == ["hr", "spo2", "rr", "sbp", "dbp", "af"]


def test_predict_and_baselines_read_a_csv_with_its_own_names(tmp_path):
    """The --time, --time-unit and --channel of `ppg import csv` work on recordings named directly."""
    from ppg_models.data.arrays import to_matrix
    from ppg_models.sim.simulate import simulate_batch

    table = simulate_batch("icu", 4, 0, 3)
    ir = to_matrix(table.column("ir")).ravel()
    csv = tmp_path / "export.csv"
    pd.DataFrame({"Zeit (ms)": np.arange(ir.size) * 8, "Puls": ir}).to_csv(csv, index=False)
    result = runner.invoke(app, ["baselines", str(csv), "--json"])
    assert result.exit_code == 1, result.output
    assert "name yours with --time COLUMN" in result.output
    args = ["baselines", str(csv), "--time", "Zeit (ms)", "--channel", "Puls=ir", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)["estimates"]) == 3
    result = runner.invoke(app, [*args[:-1], "--time-unit", "hours"])
    assert result.exit_code == 2
    assert "--time-unit takes auto, s, ms" in result.output


def test_importing_a_recording_shorter_than_a_window_writes_nothing_and_says_so(tmp_path):
    """It wrote a batch of 0 windows and exited 0; ingest would only have quarantined it."""
    csv = tmp_path / "short.csv"
    frame = pd.DataFrame({"time": np.arange(600) / 125, "pleth": np.sin(np.arange(600) / 10)})
    frame.to_csv(csv, index=False)
    out = tmp_path / "o.parquet"
    result = runner.invoke(app, ["import", "csv", str(csv), "-o", str(out), "--source", "s", "--device", "d"])
    assert result.exit_code == 1, result.output
    assert "no window to write (recording is shorter than one window (4.8 s < 10.0 s))" in result.output
    assert not out.exists()
