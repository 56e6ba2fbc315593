"""Whether to retrain: accepted windows added since the champion's dataset, label drift of what was
added, forced runs, and a champion with nothing to compare against."""

from __future__ import annotations

import pytest
from lake_helpers import clean_batch, with_labels, write_good

from flows.ingest.gx_validator import GxValidator
from ppg_models.ingest.intake import process_file
from ppg_models.ingest.policy import DriftPolicy, IngestPolicy
from ppg_models.lake.dataset import record_version
from ppg_models.lake.growth import retrain_decision
from ppg_models.lake.store import Lake

LIMITS = DriftPolicy(min_reference_windows=20)


@pytest.fixture
def lake(tmp_path):
    return Lake.create(tmp_path / "lake")


def _ingest(lake: Lake, table, name: str) -> str:
    policy = IngestPolicy(drift=DriftPolicy(min_reference_windows=10_000))  # ingest itself: no drift check
    process_file(write_good(table, lake.incoming / name), lake, policy, GxValidator(lake.root / "gx", policy))
    return record_version(lake).version


def test_added_windows_above_the_limit_call_for_a_retrain(lake):
    base = _ingest(lake, clean_batch("icu", 0, 60), "a.parquet")
    assert not retrain_decision(lake, base, 50, LIMITS).retrain  # nothing added
    _ingest(lake, clean_batch("icu", 1, 60), "b.parquet")
    decision = retrain_decision(lake, base, 50, None)
    assert decision.retrain
    assert (decision.new_batches, decision.new_windows) == (1, 60)
    assert decision.base == base
    assert decision.dataset != base
    assert "60 windows accepted since" in decision.reason
    below = retrain_decision(lake, base, 61, None)
    assert not below.retrain
    assert "below 61" in below.reason
    assert "no label drift" in below.reason


def test_drifted_labels_call_for_a_retrain_below_the_window_limit(lake):
    base = _ingest(lake, clean_batch("icu", 0, 60), "a.parquet")
    shifted = clean_batch("icu", 1, 60)
    shifted = with_labels(shifted, "hr", list(range(60)), 175.0)  # every added window at 175 bpm
    _ingest(lake, shifted, "b.parquet")
    decision = retrain_decision(lake, base, 1000, LIMITS)
    assert decision.retrain
    assert "labels drifted" in decision.reason
    assert "icu.hr" in decision.reason
    assert decision.drift
    assert decision.drift[0]["column"] == "hr"
    assert not retrain_decision(lake, base, 1000, None).retrain  # drift checks off


def test_forced_and_champion_without_a_lake_version(lake):
    base = _ingest(lake, clean_batch("icu", 0, 60), "a.parquet")
    forced = retrain_decision(lake, base, 10_000, LIMITS, force=True)
    assert forced.retrain
    assert forced.reason == "forced"
    assert retrain_decision(lake, None, 10_000, LIMITS).reason.startswith("no champion")
    on_files = retrain_decision(lake, "files", 10_000, LIMITS)
    assert on_files.retrain
    assert "trained on files" in on_files.reason
