"""`ppg ingest` and `ppg lake` as a user runs them: a separate process on the ephemeral Prefect server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lake_helpers import small_batch
from typer.testing import CliRunner

from flows.cli import app
from ppg_models.data.batch_io import write_batch

PPG = Path(sys.executable).with_name("ppg")


def _ppg(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PPG_HOME": str(home)}
    return subprocess.run([str(PPG), *args], env=env, capture_output=True, text=True, timeout=300)


def test_bad_arguments_fail_fast_with_a_reason(tmp_path):
    missing = _ppg("ingest", str(tmp_path / "nowhere"), home=tmp_path / "home")
    assert missing.returncode == 2
    assert "no such directory" in missing.stderr
    policy = tmp_path / "policy.yaml"
    policy.write_text("on_bad_windows: sometimes\n")
    bad = _ppg("ingest", "--policy", str(policy), home=tmp_path / "home")
    assert bad.returncode == 2
    assert "on_bad_windows" in bad.stderr


@pytest.mark.slow
def test_ingest_json_then_lake_listing(tmp_path):
    home = tmp_path / "home"
    drop = tmp_path / "drop"
    write_batch(small_batch("icu", 0), drop / "icu.parquet")
    (drop / "broken.parquet").write_bytes(b"PAR1 not really")
    os.utime(drop / "broken.parquet", (time.time() - 3600, time.time() - 3600))  # not an upload in progress
    result = _ppg("ingest", str(drop), "--json", "--fail-on-quarantine", home=home)
    assert result.returncode == 3, result.stderr
    summary = json.loads(result.stdout)
    assert "Calculating Metrics" not in result.stderr, "GX progress bars stay out of non-interactive output"
    assert "%|" not in result.stderr
    assert summary["counts"]["quarantined"] == 1
    assert summary["counts"]["accepted"] + summary["counts"].get("accepted_with_drops", 0) == 1
    versions = json.loads(_ppg("lake", "versions", "--json", home=home).stdout)
    assert [v["version"] for v in versions] == [summary["dataset_version"]]
    quarantined = _ppg("lake", "quarantine", home=home).stdout
    assert "broken.parquet" in quarantined
    assert "not a readable Parquet file" in quarantined


@pytest.mark.slow
def test_ingest_prints_a_line_per_file_and_one_summary_line(tmp_path):
    drop = tmp_path / "drop"
    write_batch(small_batch("icu", 0), drop / "a.parquet")
    write_batch(small_batch("wearable", 1), drop / "b.parquet")
    (drop / "partial.parquet").write_bytes(b"PAR1 half an upload")  # young and unreadable: it waits
    soon = time.time() + 600  # still young however long Prefect takes to start on a loaded machine
    os.utime(drop / "partial.parquet", (soon, soon))
    result = _ppg("ingest", str(drop), home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert "[1/3]" in result.stderr
    assert "[3/3]" in result.stderr
    assert "reading and validating 3 files (120 windows) together" in result.stderr
    summary = [line for line in result.stdout.splitlines() if line.startswith("3 files: ")]
    assert len(summary) == 1, result.stdout
    assert "1 waiting" in summary[0]
    assert (drop / "partial.parquet").exists()


def test_an_unreachable_prefect_server_is_a_clear_error(tmp_path):
    env = {**os.environ, "PPG_HOME": str(tmp_path / "home"), "PREFECT_API_URL": "http://127.0.0.1:9/api"}
    result = subprocess.run([str(PPG), "ingest"], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "Prefect server at http://127.0.0.1:9/api" in result.stderr
    assert "Traceback" not in result.stderr


def test_reading_an_empty_home_creates_nothing(tmp_path, monkeypatch):
    home = tmp_path / "empty-home"
    monkeypatch.setenv("PPG_HOME", str(home))
    for command in (["lake", "versions"], ["lake", "quarantine"], ["lake", "versions", "--json"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 0, result.output
    assert not home.exists(), "a read-only command left folders behind"
