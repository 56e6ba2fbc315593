"""Small files validated together, then filed one at a time: the same lake as filing them one by one."""

from __future__ import annotations

import json
import os
import time

from lake_helpers import clean_batch, small_batch, with_labels, write_good

from ppg_models.data.batch_io import write_batch
from ppg_models.lake.store import Lake
from ppg_models.sim.defects import corrupt_batch


def _folder(directory):
    directory.mkdir(parents=True, exist_ok=True)
    paths = [
        write_good(clean_batch(index=0), directory / "a.parquet"),
        write_good(corrupt_batch(small_batch("icu", 1)), directory / "b.parquet"),
        write_good(with_labels(clean_batch(index=2), "hr", [0, 1], 400.0), directory / "c.parquet"),
        write_good(clean_batch("wearable", 3), directory / "d.parquet"),
    ]
    old = time.time() - 3600
    for p in paths:
        os.utime(p, (old, old))
    return paths


def _filed(lake, outcome):
    record = json.loads((lake.root / outcome.location / "record.json").read_text())
    validation = json.loads(next((lake.root / outcome.location).glob("validation.json")).read_text())
    return record, validation


def _summary(lake, outcome):
    record, validation = _filed(lake, outcome)
    findings = [
        (f["check"], f["column"], f["observed"], tuple(f["window_ids"])) for f in validation["findings"]
    ]
    return outcome.outcome, record["rows"], record["reasons"], sorted(findings)


def test_files_validated_together_are_decided_as_one_by_one(tmp_path, monkeypatch):
    from flows.ingest.gx_validator import GxValidator
    from flows.ingest.together import prevalidate
    from ppg_models.ingest.intake import process_file
    from ppg_models.ingest.policy import IngestPolicy

    policy = IngestPolicy()
    decided = {}
    for mode in ("alone", "together"):
        monkeypatch.setenv("PPG_HOME", str(tmp_path / mode))
        lake = Lake.create()
        paths = _folder(tmp_path / f"in-{mode}")
        validator = GxValidator(lake.root / "gx", policy)
        if mode == "alone":
            outcomes = [process_file(p, lake, policy, validator) for p in paths]
        else:
            pre = prevalidate(paths, policy, validator)
            assert len(pre.results) == 4
            outcomes = [process_file(p, lake, policy, pre, inspected=pre.inspection(p)) for p in paths]
            assert pre.results == {}, "every prepared result was used once"
            shared = {
                _filed(lake, o)[1]["great_expectations"]["validated_together"]["run_name"]
                for o in outcomes[:3]
            }
            assert len(shared) == 1, "the three ICU files shared one run"
            assert "validated_together" not in _filed(lake, outcomes[3])[1]["great_expectations"]
        decided[mode] = [_summary(lake, o) for o in outcomes]
    assert decided["alone"] == decided["together"]
    assert [d[0] for d in decided["together"]] == [
        "accepted",
        "quarantined",
        "accepted_with_drops",
        "accepted",
    ]


def test_a_file_rewritten_after_the_group_read_it_is_read_again(tmp_path):
    from flows.ingest.gx_validator import GxValidator
    from flows.ingest.together import prevalidate
    from ppg_models.ingest.intake import process_file
    from ppg_models.ingest.policy import IngestPolicy

    lake, policy = Lake.create(), IngestPolicy()
    paths = _folder(tmp_path / "in")
    pre = prevalidate(paths, policy, GxValidator(lake.root / "gx", policy))
    write_batch(with_labels(clean_batch(index=0), "hr", [3], 400.0), paths[0])  # new bytes, same name
    old = time.time() - 3600
    os.utime(paths[0], (old, old))
    outcome = process_file(paths[0], lake, policy, pre, inspected=pre.inspection(paths[0]))
    record, validation = _filed(lake, outcome)
    assert outcome.outcome == "accepted_with_drops"
    assert record["rows"]["dropped"] == 1
    assert "validated_together" not in validation["great_expectations"], "validated on its own"


def test_bytes_changed_under_an_unchanged_size_and_time_are_never_stored(tmp_path):
    """Filing reuses the group's hash while the file keeps its size and modification time; a writer that
    changes bytes and restores the time is caught by the check of the stored copy against that hash."""
    from flows.ingest.gx_validator import GxValidator
    from flows.ingest.together import prevalidate
    from ppg_models.ingest.intake import process_file
    from ppg_models.ingest.policy import IngestPolicy
    from ppg_models.lake.store import file_stamp

    lake, policy = Lake.create(), IngestPolicy()
    paths = _folder(tmp_path / "in")
    pre = prevalidate(paths, policy, GxValidator(lake.root / "gx", policy))
    target = paths[0]
    stat = target.stat()
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other bytes
    target.write_bytes(bytes(data))
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    found = pre.inspection(target)
    assert file_stamp(target) == found.stamp, "the writer hid its change from the stamp"
    outcome = process_file(target, lake, policy, pre, inspected=found)
    assert outcome.outcome == "waiting"
    assert "changed while it was being filed" in outcome.reasons[0]
    assert not list((lake.root / "accepted").iterdir())
    assert not list((lake.root / "quarantine").iterdir())
    assert list((lake.root / "staging").iterdir()) == []
    assert target.read_bytes() == bytes(data), "the incoming file is kept"
