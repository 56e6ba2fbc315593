"""Every kind of bad input ends quarantined, or its bad windows dropped, with a reason; nothing is lost."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from lake_helpers import (
    clean_batch,
    places_of,
    replace_column,
    sha,
    stored_file,
    with_ir,
    with_labels,
    write_good,
    write_raw,
)

from flows.ingest.gx_validator import GxValidator
from ppg_models.data.arrays import to_list_array, to_matrix
from ppg_models.ingest.intake import process_file
from ppg_models.ingest.policy import IngestPolicy
from ppg_models.lake.dataset import record_version, version_table
from ppg_models.lake.store import Lake


@pytest.fixture
def lake() -> Lake:
    return Lake.create()


@pytest.fixture
def ingest(lake):
    def run(path: Path, policy: IngestPolicy | None = None, age_s: float = 3600):
        """Ingest ``path`` as one flow run would; the file is aged (a finished upload) unless told."""
        policy = policy or IngestPolicy()
        settled = time.time() - age_s
        os.utime(path, (settled, settled))
        digest = sha(path)
        outcome = process_file(path, lake, policy, GxValidator(lake.root / "gx", policy))
        with lake.commit_lock():
            record_version(lake)  # as the flow does at the end of a run
        assert places_of(lake, digest) == [
            outcome.outcome.replace("accepted_with_drops", "accepted").replace("quarantined", "quarantine")
        ], "the file must end in exactly one place"
        assert sha(stored_file(lake, digest)) == digest, "the original bytes are kept unchanged"
        return outcome

    return run


def _reason(lake: Lake, outcome) -> str:
    reason = json.loads((Path(outcome.location) / "reason.json").read_text())
    assert reason["file"], "a quarantined file names the file"
    assert reason["reasons"], "a quarantined file has a readable reason"
    return " | ".join(reason["reasons"])


def _quarantined(lake, outcome, *words: str) -> str:
    assert outcome.outcome == "quarantined", outcome
    text = _reason(lake, outcome)
    for word in words:
        assert word in text, f"{word!r} not in {text}"
    return text


def test_clean_batch_is_accepted_whole_with_its_rows(lake, ingest, tmp_path):
    table = clean_batch()
    outcome = ingest(write_good(table, lake.incoming / "icu-good.parquet"))
    assert outcome.outcome == "accepted"
    assert outcome.accepted_windows == table.num_rows == outcome.windows
    record = json.loads((Path(outcome.location) / "record.json").read_text())
    assert record["rows"] == {"total": table.num_rows, "accepted": table.num_rows, "dropped": 0}
    assert record["source"] == "icu"
    assert record["sha256"] == outcome.sha256
    _, windows = version_table(lake)
    assert windows.num_rows == table.num_rows


def test_zero_byte_file(lake, ingest):
    path = lake.incoming / "empty.parquet"
    path.write_bytes(b"")
    _quarantined(lake, ingest(path), "unreadable", "empty (0 bytes)")


def test_truncated_parquet(lake, ingest, tmp_path):
    good = write_good(clean_batch(), tmp_path / "full.parquet").read_bytes()
    path = lake.incoming / "cut.parquet"
    path.write_bytes(good[: len(good) // 2])
    _quarantined(lake, ingest(path), "unreadable", "not a readable Parquet file")


def test_csv_renamed_parquet(lake, ingest):
    path = lake.incoming / "table.parquet"
    path.write_text("window_id,hr\nw1,60\n")
    _quarantined(lake, ingest(path), "unreadable")


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda t: t.drop_columns(["hr"]), ["schema", "'hr'", "required column is missing"]),
        (
            lambda t: t.append_column("notes", pa.array(["x"] * t.num_rows)),
            ["schema", "'notes'", "unknown column"],
        ),
        (
            lambda t: replace_column(t, "hr", pa.array([str(v) for v in t.column("hr").to_pylist()])),
            ["schema", "'hr'", "expected float"],
        ),
    ],
    ids=["missing-column", "extra-column", "wrong-type"],
)
def test_schema_problems_quarantine_the_file(lake, ingest, edit, words):
    path = write_raw(edit(clean_batch()), lake.incoming / "bad-schema.parquet")
    _quarantined(lake, ingest(path), *words)


def test_channels_of_different_lengths_drop_that_window(lake, ingest):
    table = clean_batch()
    red = [np.asarray(v, np.float32) for v in table.column("red").to_pylist()]
    red[4] = red[4][:1000]
    path = write_raw(replace_column(table, "red", to_list_array(red)), lake.incoming / "ragged.parquet")
    outcome = ingest(path)
    assert outcome.outcome == "accepted_with_drops"
    assert outcome.dropped_windows == 1
    record = json.loads((Path(outcome.location) / "record.json").read_text())
    wid = table.column("window_id")[4].as_py()
    assert any("length differs" in r for r in record["reasons"])
    assert list(record["dropped"]) == [wid]
    _, windows = version_table(lake)
    assert wid not in windows.column("window_id").to_pylist()
    assert windows.num_rows == table.num_rows - 1


def _drop_case(lake, ingest, table, name, check, column):
    outcome = ingest(write_good(table, lake.incoming / name))
    assert outcome.outcome == "accepted_with_drops", outcome
    text = " | ".join(outcome.reasons)
    assert check in text, text
    assert f"'{column}'" in text, text
    return outcome


def test_nan_burst_window_is_dropped(lake, ingest):
    def burst(ir):
        ir[2, 100:600] = np.nan

    table = with_ir(clean_batch(), burst)
    outcome = _drop_case(lake, ingest, table, "nan.parquet", "signal_quality", "ir_missing_frac")
    assert "0.4" in " ".join(outcome.reasons)  # the observed value is shown


def test_flat_line_window_is_dropped(lake, ingest):
    def flat(ir):
        ir[3] = ir[3, 0]

    _drop_case(lake, ingest, with_ir(clean_batch(), flat), "flat.parquet", "signal_quality", "ir_flat_frac")


def test_label_out_of_range_window_is_dropped(lake, ingest):
    table = with_labels(clean_batch(), "hr", [1], 400.0)
    outcome = _drop_case(lake, ingest, table, "hr.parquet", "label_in_range", "hr")
    assert "400" in " ".join(outcome.reasons)
    assert "between 25 and 250" in " ".join(outcome.reasons)


def test_sbp_below_dbp_window_is_dropped(lake, ingest):
    table = with_labels(with_labels(clean_batch(), "sbp", [5], 70.0), "dbp", [5], 90.0)
    _drop_case(lake, ingest, table, "bp.parquet", "label_order", "sbp/dbp")


def test_duplicate_window_ids_inside_a_batch(lake, ingest):
    table = clean_batch()
    ids = table.column("window_id").to_pylist()
    ids[7] = ids[6]
    path = write_raw(replace_column(table, "window_id", pa.array(ids)), lake.incoming / "dup.parquet")
    outcome = ingest(path)
    assert outcome.outcome == "accepted_with_drops"
    assert "window_id_unique" in " ".join(outcome.reasons)
    assert outcome.dropped_windows == 2, "the repeated id's two rows are dropped"
    _, windows = version_table(lake)
    assert ids[6] not in windows.column("window_id").to_pylist()
    record = json.loads((Path(outcome.location) / "record.json").read_text())
    assert record["rows"]["accepted"] == outcome.accepted_windows == windows.num_rows, (
        "the record counts the rows readers load"
    )


def test_many_bad_windows_quarantine_the_batch(lake, ingest):
    table = with_labels(clean_batch(), "hr", list(range(10)), 10.0)
    _quarantined(
        lake, ingest(write_good(table, lake.incoming / "bad.parquet")), "at most 5.0% (or 4) may be dropped"
    )


def test_unsupported_sampling_rate(lake, ingest):
    table = clean_batch()
    wide = to_matrix(table.column("ir"))
    longer = to_list_array(np.concatenate([wide, wide[:, :750]], axis=1))  # 2000 samples = 10 s at 200 Hz
    table = replace_column(table, "ir", longer)
    table = replace_column(table, "red", longer)
    table = replace_column(table, "fs", pa.array([200.0] * table.num_rows))
    _quarantined(lake, ingest(write_good(table, lake.incoming / "fs200.parquet")), "sampling_rate", "200")


def test_duplicate_window_ids_across_batches(lake, ingest, tmp_path):
    first = clean_batch(index=0)
    ingest(write_good(first, lake.incoming / "first.parquet"))
    second = clean_batch(index=1)
    ids = second.column("window_id").to_pylist()
    ids[0] = first.column("window_id")[0].as_py()
    overlap = write_good(
        replace_column(second, "window_id", pa.array(ids)), lake.incoming / "overlap.parquet"
    )
    outcome = ingest(overlap)
    assert outcome.outcome == "accepted_with_drops"
    assert outcome.dropped_windows == 1
    assert "window_id_in_lake" in " ".join(outcome.reasons)
    resent = with_labels(first, "hr", [0], 61.0)  # new bytes, same windows: a re-export
    _quarantined(lake, ingest(write_good(resent, lake.incoming / "resent.parquet")), "window_id_in_lake")


def test_file_larger_than_the_limit(lake, ingest):
    path = write_good(clean_batch(), lake.incoming / "big.parquet")
    _quarantined(lake, ingest(path, IngestPolicy(max_file_bytes=1000)), "file_size", "at most 1,000 bytes")


@pytest.mark.parametrize(
    "name", ["..\\evil.parquet", "semi;colon $(x).parquet", "new\nline.parquet", "ünï.parquet"]
)
def test_odd_file_names(lake, ingest, name):
    path = write_good(clean_batch(), lake.incoming / name)
    outcome = ingest(path)
    text = _quarantined(lake, outcome, "file_name")
    reason = json.loads((Path(outcome.location) / "reason.json").read_text())
    assert reason["file"] == name
    assert reason["kept_as"] == "original.bin"
    assert repr(name) in text


def test_unknown_source_and_missing_claimed_labels(lake, ingest):
    table = replace_column(clean_batch(), "source", pa.array(["mystery-site"] * 60))
    _quarantined(
        lake, ingest(write_good(table, lake.incoming / "who.parquet")), "unknown source 'mystery-site'"
    )
    unlabeled = replace_column(clean_batch(index=2), "spo2", pa.nulls(60, pa.float32()))
    _quarantined(
        lake, ingest(write_good(unlabeled, lake.incoming / "nospo2.parquet")), "label_coverage", "'spo2'"
    )


def test_quarantine_policy_refuses_any_bad_window(lake, ingest):
    table = with_labels(clean_batch(), "hr", [1], 400.0)
    policy = IngestPolicy(on_bad_windows="quarantine")
    _quarantined(
        lake, ingest(write_good(table, lake.incoming / "strict.parquet"), policy), "policy quarantines"
    )
