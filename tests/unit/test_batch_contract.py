"""The batch contract: schema from the catalogue, round trips, and bad files with named errors."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ppg_models.data.batch_io import read_batch, read_table, write_batch
from ppg_models.data.schema import BATCH_SCHEMA, LABEL_COLUMNS, SCHEMA_VERSION, VERSION_KEY, BatchFormatError
from ppg_models.tasks import TASK_NAMES


def _set(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)


def test_schema_has_one_nullable_label_column_per_task_and_a_version():
    assert LABEL_COLUMNS == TASK_NAMES
    for name in TASK_NAMES:
        assert BATCH_SCHEMA.field(name).nullable
    assert BATCH_SCHEMA.metadata[VERSION_KEY] == str(SCHEMA_VERSION).encode()
    assert BATCH_SCHEMA.field("red").type == pa.list_(pa.float32())


def test_round_trip_keeps_content_and_records_the_schema_version(icu_batch, tmp_path):
    path = write_batch(icu_batch, tmp_path / "b.parquet")
    back = read_batch(path)
    assert back.equals(icu_batch)
    assert pq.read_schema(path).metadata[VERSION_KEY] == b"1"
    assert not list(tmp_path.glob(".*.tmp")), "atomic write leaves no temporary file"


def test_compatible_types_are_converted(icu_batch, tmp_path):
    wider = icu_batch.set_column(0, "window_id", icu_batch.column("window_id").cast(pa.large_string()))
    wider = _set(wider, "ir", wider.column("ir").cast(pa.list_(pa.float64())))
    wider = _set(wider, "fs", wider.column("fs").cast(pa.int32()))
    pq.write_table(wider, tmp_path / "w.parquet")
    back = read_batch(tmp_path / "w.parquet")
    assert back.schema.equals(BATCH_SCHEMA, check_metadata=False)
    np.testing.assert_array_equal(back.column("fs").to_numpy(), icu_batch.column("fs").to_numpy())


def test_absent_green_column_is_added_as_nulls(icu_batch, tmp_path):
    pq.write_table(icu_batch.drop_columns(["green"]), tmp_path / "g.parquet")
    assert read_batch(tmp_path / "g.parquet").column("green").null_count == icu_batch.num_rows


def _expect(path: Path, column: str | None, fragment: str) -> BatchFormatError:
    with pytest.raises(BatchFormatError) as info:
        read_batch(path)
    err = info.value
    assert str(path) in str(err)
    assert err.column == column
    assert fragment in str(err)
    return err


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.parquet").write_bytes(b"")
    _expect(tmp_path / "empty.parquet", None, "empty (0 bytes)")


def test_truncated_file(icu_batch, tmp_path):
    path = write_batch(icu_batch, tmp_path / "t.parquet")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    _expect(path, None, "not a readable Parquet file")


def test_csv_renamed_parquet(tmp_path):
    path = tmp_path / "fake.parquet"
    path.write_text("window_id,hr\nw1,60\n")
    _expect(path, None, "not a readable Parquet file")


def test_missing_and_extra_columns(icu_batch, tmp_path):
    pq.write_table(icu_batch.drop_columns(["subject_id"]), tmp_path / "m.parquet")
    _expect(tmp_path / "m.parquet", "subject_id", "required column is missing")
    pq.write_table(
        icu_batch.append_column("notes", pa.array(["x"] * icu_batch.num_rows)), tmp_path / "e.parquet"
    )
    _expect(tmp_path / "e.parquet", "notes", "unknown column")


def test_wrong_type_names_expected_and_found(icu_batch, tmp_path):
    bad = _set(icu_batch, "hr", pa.array(["fast"] * icu_batch.num_rows))
    pq.write_table(bad, tmp_path / "w.parquet")
    _expect(tmp_path / "w.parquet", "hr", "expected float, found string")


def test_channels_of_different_lengths_name_the_windows(icu_batch, tmp_path):
    short = [row[:-10] for row in icu_batch.column("ir").to_pylist()[:3]] + icu_batch.column(
        "ir"
    ).to_pylist()[3:]
    bad = _set(icu_batch, "ir", pa.array(short, pa.list_(pa.float32())))
    pq.write_table(bad, tmp_path / "l.parquet")
    err = _expect(tmp_path / "l.parquet", "ir", "length differs")
    assert icu_batch.column("window_id")[0].as_py() in str(err)
    assert "in 3 rows" in str(err)


@pytest.mark.parametrize(("samples", "words"), [(0, "signal is empty"), (1, "shorter than 2 s"),
                                                (249, "shorter than 2 s")])  # fmt: skip
def test_a_window_too_short_for_any_estimate_is_refused_by_name(icu_batch, tmp_path, samples, words):
    """An empty or stray-sample window crashed the quality features and the DSP baseline (fuzzed)."""
    rows = {ch: icu_batch.column(ch).to_pylist() for ch in ("red", "ir")}
    bad = icu_batch
    for ch, values in rows.items():
        values[2] = values[2][:samples]  # 125 Hz: 249 samples is just under 2 s
        bad = _set(bad, ch, pa.array(values, pa.list_(pa.float32())))
    pq.write_table(bad, tmp_path / "s.parquet")
    err = _expect(tmp_path / "s.parquet", "red", words)
    assert icu_batch.column("window_id")[2].as_py() in str(err)
    assert "in 1 rows" in str(err)


def test_a_window_of_two_seconds_is_long_enough(icu_batch, tmp_path):
    two = {ch: [row[:250] for row in icu_batch.column(ch).to_pylist()] for ch in ("red", "ir")}
    table = _set(_set(icu_batch, "red", pa.array(two["red"], pa.list_(pa.float32()))), "ir",
                 pa.array(two["ir"], pa.list_(pa.float32())))  # fmt: skip
    assert read_batch(write_batch(table, tmp_path / "two.parquet")).num_rows == icu_batch.num_rows


def test_duplicate_window_ids_and_null_subjects(icu_batch, tmp_path):
    ids = icu_batch.column("window_id").to_pylist()
    ids[5] = ids[4]
    bad = _set(icu_batch, "window_id", pa.array(ids))
    pq.write_table(bad, tmp_path / "d.parquet")
    _expect(tmp_path / "d.parquet", "window_id", "repeats within the file")
    subjects = icu_batch.column("subject_id").to_pylist()
    subjects[0] = None
    pq.write_table(_set(icu_batch, "subject_id", pa.array(subjects)), tmp_path / "n.parquet")
    _expect(tmp_path / "n.parquet", "subject_id", "missing (null)")


@pytest.mark.parametrize(("column", "blank"), [("subject_id", ""), ("subject_id", "  "), ("source", "\t"),
                                                ("device", ""), ("window_id", " ")])  # fmt: skip
def test_blank_ids_are_refused_by_name(icu_batch, tmp_path, column, blank):
    values = icu_batch.column(column).to_pylist()
    values[3] = blank  # a blank subject id would pool unrelated people into one subject
    pq.write_table(_set(icu_batch, column, pa.array(values)), tmp_path / "b.parquet")
    _expect(tmp_path / "b.parquet", column, "empty (or only white space)")


def test_out_of_domain_categories(icu_batch, tmp_path):
    bad = _set(icu_batch, "af", pa.array([2] * icu_batch.num_rows, pa.int8()))
    pq.write_table(bad, tmp_path / "af.parquet")
    _expect(tmp_path / "af.parquet", "af", "must be 0 or 1")
    bad = _set(icu_batch, "motion", pa.array(["jogging"] * icu_batch.num_rows))
    pq.write_table(bad, tmp_path / "mo.parquet")
    _expect(tmp_path / "mo.parquet", "motion", "must be one of")


def test_window_without_any_channel(icu_batch, tmp_path):
    none = pa.nulls(icu_batch.num_rows, pa.list_(pa.float32()))
    bad = _set(_set(icu_batch, "red", none), "ir", none)
    pq.write_table(bad, tmp_path / "c.parquet")
    _expect(tmp_path / "c.parquet", "ir", "no signal channel")


def test_newer_schema_version_is_refused(icu_batch, tmp_path):
    meta = {VERSION_KEY: str(SCHEMA_VERSION + 1).encode()}
    pq.write_table(icu_batch.replace_schema_metadata(meta), tmp_path / "v.parquet")
    _expect(tmp_path / "v.parquet", None, f"knows up to {SCHEMA_VERSION}")


def test_writer_refuses_a_bad_table_and_leaves_nothing(icu_batch, tmp_path):
    bad = _set(icu_batch, "skin_tone", pa.array([9] * icu_batch.num_rows, pa.int8()))
    with pytest.raises(BatchFormatError, match="Fitzpatrick"):
        write_batch(bad, tmp_path / "x.parquet")
    assert list(tmp_path.iterdir()) == []


def test_read_table_checks_columns_but_not_rows(icu_batch, tmp_path):
    ids = icu_batch.column("window_id").to_pylist()
    ids[1] = ids[0]
    pq.write_table(_set(icu_batch, "window_id", pa.array(ids)), tmp_path / "r.parquet")
    assert read_table(tmp_path / "r.parquet").num_rows == icu_batch.num_rows
