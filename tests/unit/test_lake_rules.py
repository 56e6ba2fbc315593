"""Pure parts of ingest: policy file, decision, drift statistics, and the suite built from the catalogue."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from ppg_models.ingest.drift import drift_findings, psi
from ppg_models.ingest.findings import Finding, decide
from ppg_models.ingest.policy import IngestPolicy, PolicyError
from ppg_models.tasks import TASKS


def _window(check: str, ids: list[str]) -> Finding:
    return Finding(check, "hr", "bad", "good", scope="window", window_ids=tuple(ids))


def test_policy_yaml_errors_name_the_field(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(
        "max_drop_fraction: 2\nquality:\n  sharpness: {max: 1}\nsources: {icu: [hr, temperature]}\n"
    )
    with pytest.raises(PolicyError) as err:
        IngestPolicy.from_yaml(path)
    text = str(err.value)
    assert str(path) in text
    for part in ("max_drop_fraction", "sharpness", "temperature"):
        assert part in text
    path.write_text("quality:\n  flat_frac: {min: 0.5, max: 0.1}\n")
    with pytest.raises(PolicyError, match=r"min 0\.5 is above max 0\.1"):
        IngestPolicy.from_yaml(path)


@pytest.mark.parametrize(
    ("policy", "named"),
    [  # fuzzed: each was accepted; a NaN limit compares false, so it silently turned its check off
        ({"quality": {"missing_frac": {"max": float("nan")}}}, r"quality\.missing_frac\.max.*finite"),
        ({"quality": {"pulse_snr_db": {"min": float("-inf")}}}, r"quality\.pulse_snr_db\.min.*finite"),
        ({"sampling_rates": [-100]}, r"sampling_rates\.0.*greater than 0"),
        ({"sampling_rates": [float("nan")]}, r"sampling_rates\.0.*finite"),
        ({"window_seconds": 1}, r"window_seconds.*greater than or equal to 2"),
        ({"sources": {}}, r"sources.*at least 1"),
    ],
)
def test_a_policy_that_would_disable_or_break_every_check_is_refused(policy, named):
    with pytest.raises(PolicyError, match=named):
        IngestPolicy.from_dict(policy)


def test_policy_defaults_cover_every_simulated_source():
    from ppg_models.sim.catalog import SOURCES

    policy = IngestPolicy()
    assert {s: list(spec.labels) for s, spec in SOURCES.items()} == policy.sources


def test_decision_accept_drop_or_quarantine():
    policy = IngestPolicy(max_drop_fraction=0.1)
    assert decide([], 100, policy).outcome == "accepted"
    few = decide([_window("label_in_range", ["a", "b"]), _window("signal_quality", ["b", "c"])], 100, policy)
    assert few.outcome == "accepted_with_drops"
    assert few.dropped == {
        "a": ["label_in_range hr"],
        "b": ["label_in_range hr", "signal_quality hr"],
        "c": ["signal_quality hr"],
    }
    many = decide([_window("label_in_range", [str(i) for i in range(11)])], 100, policy)
    assert many.outcome == "quarantined"
    assert "11 of 100 windows (11.0%)" in many.reasons[0]
    small = IngestPolicy()  # 5 %, but a few windows may always go: in 40, 3 bad ones are chance
    assert (
        decide([_window("signal_quality", ["a", "b", "c", "d"])], 40, small).outcome == "accepted_with_drops"
    )
    assert decide([_window("signal_quality", list("abcde"))], 40, small).outcome == "quarantined"
    batch = decide([Finding("schema", "hr", "expected float", "float")], 100, policy)
    assert batch.outcome == "quarantined"
    assert not batch.dropped
    warned = decide(
        [Finding("distribution_drift", "hr", "PSI 0.4", "PSI <= 0.25", blocking=False)], 100, policy
    )
    assert warned.outcome == "accepted"
    assert warned.warnings


def test_psi_is_small_for_the_same_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(0)
    reference = rng.normal(70, 10, 5000)
    assert psi(reference, rng.normal(70, 10, 2000)) < 0.02
    assert psi(reference, rng.normal(95, 10, 2000)) > 1.0


def test_drift_is_reported_against_enough_reference_windows():
    rng = np.random.default_rng(1)
    reference = pd.DataFrame({"hr": rng.normal(70, 10, 1000), "ir_skewness": rng.normal(-0.5, 0.3, 1000)})
    same = pd.DataFrame({"hr": rng.normal(70, 10, 300), "ir_skewness": rng.normal(-0.5, 0.3, 300)})
    shifted = same.assign(hr=same["hr"] + 40)
    policy = IngestPolicy()
    assert drift_findings(same, reference, policy) == []
    found = drift_findings(shifted, reference, policy)
    assert [f.column for f in found] == ["hr"]
    assert not found[0].blocking, "drift warns by default"
    assert "PSI" in found[0].observed
    strict = IngestPolicy(drift={"action": "quarantine"})
    assert drift_findings(shifted, reference, strict)[0].blocking
    assert drift_findings(shifted, reference.iloc[:100], policy) == [], "too little reference: no verdict"


def test_the_suite_takes_ranges_from_the_catalogue_and_limits_from_the_policy():
    import great_expectations as gx

    from flows.ingest.expectations import build_suite

    gx.get_context(mode="ephemeral")  # GX builds suites inside an active context
    policy = IngestPolicy()
    suite = build_suite("s", ["hr", "spo2"], ["ir_flat_frac", "red_missing_frac"], policy)
    configs = [e.configuration for e in suite.expectations]
    ranges = {
        c.kwargs["column"]: (c.kwargs["min_value"], c.kwargs["max_value"])
        for c in configs
        if c.meta["check"] == "label_in_range"
    }
    assert ranges == {t.name: t.valid_range for t in TASKS if t.kind == "regression"}
    coverage = {
        c.kwargs["column"]: c.kwargs["mostly"] for c in configs if c.meta["check"] == "label_coverage"
    }
    assert coverage == {"hr": policy.min_labeled_fraction, "spo2": policy.min_labeled_fraction}
    quality = {c.kwargs["column"] for c in configs if c.meta["check"] == "signal_quality"}
    assert quality == {"ir_flat_frac", "red_missing_frac"}
    assert {c.meta["scope"] for c in configs} == {"window", "batch"}


def test_the_documented_example_policy_is_the_default():
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "ingest-policy.yaml"
    assert IngestPolicy.from_yaml(example) == IngestPolicy()


@pytest.mark.parametrize(
    "partial",
    [
        {"quality": {"missing_frac": {"max": 0.1}}},
        {"quality": {"perfusion_index": {"min": 0.05}}},
        {"drift": {"psi_limit": 0.5}},
        {"max_drop_fraction": 0.1},
    ],
)
def test_every_default_survives_a_partial_policy(tmp_path, partial):
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(partial))
    loaded, default = IngestPolicy.from_yaml(path).model_dump(), IngestPolicy().model_dump()
    changed = {
        (section, key, field)
        for section, values in partial.items()
        if isinstance(values, dict)
        for key, value in values.items()
        for field in (value if isinstance(value, dict) else {None: value})
    }
    for feature, limit in default["quality"].items():
        for field, value in limit.items():
            if ("quality", feature, field) not in changed:
                assert loaded["quality"][feature][field] == value, (feature, field)
    for key, value in default.items():
        if key not in partial:
            assert loaded[key] == value, key
    assert loaded["quality"]["flat_frac"] == {"min": None, "max": 0.6}, "flat windows stay refused"


def test_a_default_limit_is_removed_only_by_null():
    policy = IngestPolicy.from_dict({"quality": {"cardiac_power_ratio": None, "flat_frac": {"max": 0.3}}})
    assert "cardiac_power_ratio" not in policy.quality
    assert policy.quality["flat_frac"].max == 0.3
    assert policy.quality["missing_frac"].max == 0.2
