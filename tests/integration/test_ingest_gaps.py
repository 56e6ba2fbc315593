"""Issue 12's failures, each reproduced: non-finite values, files still being written, read-only incoming
folders, stored bytes that must never change, partial policies, and one version per run."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from lake_helpers import clean_batch, places_of, replace_column, sha, stored_file, with_ir, write_raw

from flows.ingest.gx_validator import GxValidator
from ppg_models.ingest.intake import process_file
from ppg_models.ingest.policy import IngestPolicy
from ppg_models.lake.dataset import record_version, version_table
from ppg_models.lake.store import Lake


@pytest.fixture
def lake() -> Lake:
    return Lake.create()


def _age(path: Path, seconds: float = 3600) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def _run(lake: Lake, path: Path, policy: IngestPolicy | None = None):
    policy = policy or IngestPolicy()
    outcome = process_file(path, lake, policy, GxValidator(lake.root / "gx", policy))
    with lake.commit_lock():
        record_version(lake)
    return outcome


def _with_value(table: pa.Table, column: str, row: int, value: float) -> pa.Table:
    values = table.column(column).to_numpy(zero_copy_only=False).astype(np.float64)
    values[row] = value
    return replace_column(table, column, pa.array(values, table.schema.field(column).type))


@pytest.mark.parametrize(
    ("column", "value", "words"),
    [
        ("fs", np.nan, "sampling rate is not a finite number"),
        ("fs", np.inf, "sampling rate is not a finite number"),
        ("hr", np.nan, "label is not a finite number"),
        ("spo2", -np.inf, "label is not a finite number"),
        ("sbp", np.inf, "label is not a finite number"),
    ],
)
def test_non_finite_rate_and_labels_are_named_failures(lake, column, value, words):
    table = _with_value(clean_batch(), column, 3, value)
    path = _age(write_raw(table, lake.incoming / f"{column}.parquet"))
    outcome = _run(lake, path)
    assert outcome.outcome == "accepted_with_drops", outcome
    text = " | ".join(outcome.reasons)
    assert f"'{column}'" in text
    assert words in text
    _, loaded = version_table(lake)  # training can load what was accepted
    assert table.column("window_id")[3].as_py() not in loaded.column("window_id").to_pylist()


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinite_samples_fail_even_without_the_power_ratio_limit(lake, value):
    def spike(ir):
        ir[5, 300] = value

    policy = IngestPolicy.from_dict({"quality": {"cardiac_power_ratio": None}})
    path = _age(write_raw(with_ir(clean_batch(), spike), lake.incoming / "inf.parquet"))
    outcome = _run(lake, path, policy)
    assert outcome.outcome == "accepted_with_drops", outcome
    assert "signal holds infinite samples" in " | ".join(outcome.reasons)


@pytest.mark.parametrize(("samples", "words"), [(0, "signal is empty"), (1, "signal is shorter than 2 s")])
def test_an_empty_or_one_sample_channel_drops_its_window_not_the_file(lake, samples, words):
    """Fuzzed: the quality features raised on these rows, so the file ended as an ingest error."""
    table = clean_batch()
    ir = table.column("ir").to_pylist()
    ir[4] = ir[4][:samples]
    path = _age(write_raw(replace_column(table, "ir", pa.array(ir, table.schema.field("ir").type)),
                          lake.incoming / "short.parquet"))  # fmt: skip
    outcome = _run(lake, path)
    assert outcome.outcome == "accepted_with_drops", outcome
    text = " | ".join(outcome.reasons)
    assert f"contract 'ir': {words}" in text
    assert table.column("window_id")[4].as_py() in text
    _, loaded = version_table(lake)
    assert loaded.num_rows == table.num_rows - 1


def test_a_labeled_window_of_noise_is_dropped_for_its_missing_pulse(lake):
    def sensor_off(ir):  # electronic noise around the level: no pulse, though the window is labeled
        ir[2, :] = np.round(30000 + 3 * np.random.default_rng(2).standard_normal(ir.shape[1]))

    path = _age(write_raw(with_ir(clean_batch(), sensor_off), lake.incoming / "off.parquet"))
    outcome = _run(lake, path)
    assert outcome.outcome == "accepted_with_drops", outcome
    assert "signal_quality 'ir_pulse_snr_db'" in " | ".join(outcome.reasons)
    assert outcome.dropped_windows == 1


def test_a_lake_from_before_the_noise_floor_feature_keeps_taking_batches(lake):
    """Windows accepted before ``pulse_snr_db`` existed lack its column: drift reads nulls there."""
    import pyarrow.parquet as pq

    policy = IngestPolicy.from_dict({"drift": {"min_reference_windows": 10}})
    first = _run(lake, _age(write_raw(clean_batch(index=0), lake.incoming / "a.parquet")), policy)
    assert first.outcome == "accepted"
    reference = lake.root / "reference" / "icu.arrow"
    old = _arrow(reference)
    legacy = reference.with_suffix(".parquet")  # as lakes stored it before the Arrow file
    pq.write_table(old.drop_columns([c for c in old.column_names if c.endswith("_pulse_snr_db")]), legacy)
    reference.unlink()
    second = _run(lake, _age(write_raw(clean_batch(index=1), lake.incoming / "b.parquet")), policy)
    assert second.outcome == "accepted", second
    assert not legacy.exists(), "the legacy reference is replaced by the Arrow file"
    snr = _arrow(reference).column("ir_pulse_snr_db").to_numpy(zero_copy_only=False)
    assert np.isfinite(snr).sum() == 60, "the new batch's values, then the old windows' nulls"


def _arrow(path: Path) -> pa.Table:
    with pa.OSFile(str(path)) as f:
        return pa.ipc.open_file(f).read_all()


def test_a_partial_policy_still_refuses_flat_windows(lake):
    def flat(ir):
        ir[4, :] = 1000.0

    policy = IngestPolicy.from_dict({"quality": {"missing_frac": {"max": 0.1}}})
    path = _age(write_raw(with_ir(clean_batch(), flat), lake.incoming / "flat.parquet"))
    outcome = _run(lake, path, policy)
    assert outcome.outcome == "accepted_with_drops"
    assert "flat_frac" in " | ".join(outcome.reasons)


def test_the_stored_copy_never_shares_the_incoming_inode(lake, monkeypatch):
    path = _age(write_raw(clean_batch(), lake.incoming / "a.parquet"))
    original = path.read_bytes()
    monkeypatch.setattr(Path, "unlink", _refuse_unlink)  # a read-only incoming folder
    outcome = _run(lake, path)
    assert outcome.outcome == "accepted"
    assert "could not be removed" in " ".join(outcome.warnings)
    stored = stored_file(lake, sha(stored_file(lake, outcome.sha256)))
    assert os.stat(stored).st_ino != os.stat(path).st_ino
    path.write_bytes(b"the uploader overwrote its file")  # the lake copy must not change
    assert stored.read_bytes() == original
    version_table(lake)  # the version still loads: its bytes are intact
    again = _run(lake, path)  # a later run: the changed file is judged anew, nothing is an error
    assert again.outcome != "error"


def test_a_read_only_incoming_folder_is_no_error_on_later_runs(lake, monkeypatch):
    path = _age(write_raw(clean_batch(), lake.incoming / "a.parquet"))
    monkeypatch.setattr(Path, "unlink", _refuse_unlink)
    first = _run(lake, path)
    second = _run(lake, path)
    assert first.outcome == "accepted"
    assert second.outcome == "already_processed"
    assert "could not be removed" in " ".join(second.warnings)
    assert places_of(lake, sha(path)) == ["accepted", "incoming"]


_REAL_UNLINK = Path.unlink


def _refuse_unlink(self, missing_ok=False):
    """A read-only incoming folder (tests run as root, so chmod would not stop an unlink)."""
    if self.parent.name == "incoming":
        raise PermissionError(13, "Permission denied", str(self))
    return _REAL_UNLINK(self, missing_ok=missing_ok)


def test_an_unreadable_file_still_being_uploaded_waits(lake):
    good = write_raw(clean_batch(), lake.root / "whole.parquet")
    partial = lake.incoming / "upload.parquet"
    partial.write_bytes(good.read_bytes()[: good.stat().st_size // 2])  # the writer is midway
    outcome = _run(lake, partial)
    assert outcome.outcome == "waiting"
    assert places_of(lake, sha(partial)) == ["incoming"]
    assert list((lake.root / "staging").iterdir()) == [], "its staged copy is gone"
    partial.write_bytes(good.read_bytes())  # the writer finishes
    assert _run(lake, partial).outcome == "accepted"


def test_a_file_that_changes_while_it_is_read_waits(lake, monkeypatch):
    import ppg_models.ingest.intake as intake

    path = _age(write_raw(clean_batch(), lake.incoming / "growing.parquet"))
    real = intake.inspect_file

    def inspect_while_writing(*args, **kwargs):
        found = real(*args, **kwargs)
        with open(path, "ab") as f:
            f.write(b"more bytes")
        return found

    monkeypatch.setattr(intake, "inspect_file", inspect_while_writing)
    outcome = _run(lake, path)
    assert outcome.outcome == "waiting"
    assert "changed while it was read" in outcome.reasons[0]
    assert places_of(lake, sha(path)) == ["incoming"]
    assert list((lake.root / "staging").iterdir()) == [], "its staged copy is gone"


def test_a_marked_upload_is_left_alone(lake):
    path = write_raw(clean_batch(), lake.incoming / "big.parquet")
    marker = lake.incoming / "big.parquet.uploading"
    marker.touch()
    assert lake.pending() == []
    assert {p.name for p in lake.others()} == {"big.parquet", "big.parquet.uploading"}
    marker.unlink()
    assert lake.pending() == [path]


def test_chunked_reading_finds_the_same_problems_as_one_pass(lake):
    def spike(ir):
        ir[70, 10] = np.inf

    table = with_ir(clean_batch(windows=150), spike)
    ids = table.column("window_id").to_pylist()
    ids[140] = ids[3]  # a repeat across chunks
    table = replace_column(table, "window_id", pa.array(ids))
    path = _age(write_raw(table, lake.incoming / "chunks.parquet"))
    from ppg_models.ingest.inspect import inspect_file

    small = inspect_file(path, IngestPolicy(chunk_windows=64))
    whole = inspect_file(path, IngestPolicy(chunk_windows=4096))
    assert sorted(f.describe() for f in small.findings) == sorted(f.describe() for f in whole.findings)
    assert small.frame.drop(columns=[]).equals(whole.frame)
    described = " | ".join(f.describe() for f in small.findings)
    assert "infinite" in described
    assert "repeats within the file" in described


def test_record_json_counts_match_the_windows_readers_load(lake):
    table = clean_batch()
    ids = table.column("window_id").to_pylist()
    ids[7] = ids[6]
    path = _age(write_raw(replace_column(table, "window_id", pa.array(ids)), lake.incoming / "d.parquet"))
    outcome = _run(lake, path)
    record = json.loads((Path(outcome.location) / "record.json").read_text())
    _, loaded = version_table(lake)
    assert record["rows"]["accepted"] == loaded.num_rows == len(ids) - 2


@pytest.mark.slow
def test_fifty_small_simulated_good_batches_all_pass_the_default_policy(lake):
    from ppg_models.sim.simulate import write_simulated

    policy = IngestPolicy()
    validator = GxValidator(lake.root / "gx", policy)
    outcomes = [process_file(p, lake, policy, validator) for p in write_simulated(lake.incoming, 50, 40, 1)]
    assert [o.file for o in outcomes if o.outcome == "quarantined"] == []


def test_the_same_recording_under_new_window_ids_is_flagged(lake):
    first = clean_batch()
    _run(lake, _age(write_raw(first, lake.incoming / "first.parquet")))
    renamed = replace_column(
        first, "window_id", pa.array([f"{w}-again" for w in first["window_id"].to_pylist()])
    )
    warned = _run(lake, _age(write_raw(renamed, lake.incoming / "again.parquet")))
    assert warned.outcome == "accepted", "warn (the default) keeps the windows"
    assert any("near_duplicate" in w and "in the lake" in w for w in warned.warnings)

    twice = replace_column(
        first, "window_id", pa.array([f"{w}-third" for w in first["window_id"].to_pylist()])
    )
    policy = IngestPolicy.from_dict({"near_duplicates": "drop", "max_drop_fraction": 1.0})
    dropped = _run(lake, _age(write_raw(twice.slice(0, 10), lake.incoming / "third.parquet")), policy)
    assert dropped.outcome == "quarantined" or dropped.dropped_windows == 10
    assert "near_duplicate" in " ".join(dropped.reasons)
    plan = " ".join(lake.index.moment_plan())
    assert "USING INDEX windows_moment" in plan, f"the lookup must not scan the lake: {plan}"


def test_a_repeated_start_time_within_a_file_is_flagged(lake):
    table = clean_batch()
    moments = table.column("recorded_at").to_pylist()
    subjects = table.column("subject_id").to_pylist()
    j = next(i for i in range(1, len(subjects)) if subjects[i] == subjects[0])
    moments[j] = moments[0]
    table = replace_column(table, "recorded_at", pa.array(moments, table.schema.field("recorded_at").type))
    outcome = _run(lake, _age(write_raw(table, lake.incoming / "repeat.parquet")))
    assert any("earlier in this file" in w for w in outcome.warnings)


def test_recording_times_no_clock_can_have_meant_are_kept_with_a_warning(lake):
    """Fuzzed: a window recorded in 2300 and one at the Unix epoch were accepted without a word."""
    import datetime as dt

    table = clean_batch()
    times = table.column("recorded_at").to_pylist()
    times[1] = dt.datetime(2300, 1, 1, tzinfo=dt.UTC)
    times[2] = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    table = replace_column(table, "recorded_at", pa.array(times, table.schema.field("recorded_at").type))
    outcome = _run(lake, _age(write_raw(table, lake.incoming / "clock.parquet")))
    assert outcome.outcome == "accepted", outcome  # the signal and labels may be fine: nothing dropped
    ids = table.column("window_id").to_pylist()
    future = next(w for w in outcome.warnings if "after the ingest time" in w)
    assert "2300-01-01 00:00:00" in future
    assert ids[1] in future
    epoch = next(w for w in outcome.warnings if "before 1990" in w)
    assert ids[2] in epoch
    assert ids[0] not in future + epoch
