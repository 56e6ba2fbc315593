"""Files validated together in one Great Expectations run get exactly the results of runs one at a time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lake_helpers import small_batch

from ppg_models.ingest.policy import IngestPolicy
from ppg_models.ingest.window_frame import window_frame
from ppg_models.sim.defects import corrupt_batch

pytest.importorskip("great_expectations")

KEYS = ("element_count", "unexpected_count", "missing_count", "unexpected_index_list", "unexpected_list")


def _frames():
    policy = IngestPolicy()
    rates = sorted(policy.sampling_rates)
    good = window_frame(small_batch("icu", 0), rates)
    bad = window_frame(corrupt_batch(small_batch("icu", 1)), rates)
    sparse = window_frame(small_batch("icu", 2), rates)
    sparse.loc[sparse.index[: int(0.8 * len(sparse))], "hr"] = np.nan  # coverage below the policy's minimum
    twice = window_frame(small_batch("icu", 3), rates)
    twice.loc[twice.index[5], "window_id"] = twice["window_id"].iloc[4]  # an id repeated inside the file
    twice.loc[twice.index[7], "subject_id"] = None
    echo = good.copy()  # the same ids as another file of the group: not a repeat inside this file
    echo.loc[echo.index[:3], "sbp"] = 20.0  # below DBP
    big = pd.concat([bad.assign(window_id=bad["window_id"] + f"-{k}") for k in range(5)], ignore_index=True)
    big["hr"] = 400.0  # 300 values out of range: more than GX lists (it keeps the first 200)
    return policy, [good, bad, big, sparse, twice, echo, big.copy()]


def _same(alone, together):
    (f1, r1), (f2, r2) = alone, together
    assert [vars(f) for f in f1] == [vars(f) for f in f2]
    assert r1["success"] == r2["success"]
    assert r1["statistics"] == {k: r2["statistics"][k] for k in r1["statistics"]}
    for a, b in zip(r1["expectations"], r2["expectations"], strict=True):
        assert (a["expectation_type"], a["kwargs"], a["success"]) == (
            b["expectation_type"],
            b["kwargs"],
            b["success"],
        )
        for key in KEYS:
            assert a["result"].get(key) == b["result"].get(key), (a["expectation_type"], a["kwargs"], key)


def test_validating_together_gives_each_file_its_own_results(tmp_path):
    from flows.ingest.gx_validator import GxValidator

    policy, frames = _frames()
    validator = GxValidator(tmp_path / "gx", policy)
    claimed = list(policy.sources["icu"])
    ids = [f"batch{k}" for k in range(len(frames))]
    together = validator.validate_many([(f, claimed, b) for f, b in zip(frames, ids, strict=True)])
    assert {r["validated_together"]["run_name"] for _, r in together.values()} == {
        f"together-batch0-{len(ids)}"
    }
    for frame, batch_id in zip(frames, ids, strict=True):
        _same(validator(frame, claimed, batch_id), together[batch_id])
    checks = {b: {f.check for f in together[b][0]} for b in ids}
    assert {"label_in_range", "signal_quality", "label_order"} <= checks["batch1"]
    assert checks["batch0"] == set()  # its ids reappear in batch5, which is no repeat within batch0
    assert "label_coverage" in checks["batch3"]
    assert {"window_id_unique", "subject_id_present"} <= checks["batch4"]
    assert "label_order" in checks["batch5"]
    hr = next(e for e in together["batch6"][1]["expectations"] if e["kwargs"].get("column") == "hr")
    assert hr["result"]["unexpected_count"] == 300
    assert len(hr["result"]["unexpected_list"]) == 200


def test_files_of_different_suites_are_validated_apart(tmp_path):
    from flows.ingest.gx_validator import GxValidator

    policy, frames = _frames()
    validator = GxValidator(tmp_path / "gx", policy)
    wearable = window_frame(small_batch("wearable", 0), sorted(policy.sampling_rates))
    out = validator.validate_many(
        [(frames[0], list(policy.sources["icu"]), "a"), (wearable, list(policy.sources["wearable"]), "b")]
    )
    assert all("validated_together" not in r for _, r in out.values())
    _same(validator(wearable, list(policy.sources["wearable"]), "b"), out["b"])


def test_data_docs_render_a_run_s_own_results_and_keep_earlier_pages(tmp_path):
    from flows.ingest.gx_validator import GxValidator

    policy, frames = _frames()
    claimed = list(policy.sources["icu"])
    first = GxValidator(tmp_path / "gx", policy)
    first(frames[0], claimed, "early")
    index = first.build_docs()
    site = index.parent
    (early,) = [p for p in site.rglob("*.html") if "early" in p.parts]
    stamp = early.stat().st_mtime_ns
    later = GxValidator(tmp_path / "gx", policy)  # the next flow run
    later(frames[1], claimed, "late")
    assert later.build_docs() == index
    assert early.stat().st_mtime_ns == stamp, "an earlier run's page is not rendered again"
    assert [p for p in site.rglob("*.html") if "late" in p.parts]
    text = index.read_text()
    assert "early" in text
    assert "late" in text
    assert GxValidator(tmp_path / "gx", policy).build_docs() == index, "a run that validated nothing"


def test_a_result_that_cannot_be_cut_by_file_is_validated_one_file_at_a_time(tmp_path):
    from flows.ingest.gx_validator import GxValidator

    policy, frames = _frames()
    claimed = list(policy.sources["icu"])
    good, odd = frames[0].copy(), frames[1].copy()
    good["hr"] = good["hr"].astype(object)
    odd["hr"] = odd["hr"].astype(object)
    odd.loc[odd.index[0], "hr"] = "fast"  # GX lists no complete index for this column of the stack
    validator = GxValidator(tmp_path / "gx", policy)
    out = validator.validate_many([(good, claimed, "good"), (odd, claimed, "odd")])
    assert all("validated_together" not in r for _, r in out.values()), "validated one at a time"
    _same(validator(good, claimed, "good"), out["good"])
    _same(validator(odd, claimed, "odd"), out["odd"])
    assert "label_in_range" not in {f.check for f in out["good"][0]}, "one file's data fails no other"
