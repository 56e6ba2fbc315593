"""benchmarks/group_monitor.py replays both selection rules on one recorded training: where each stops
and which epoch it keeps, with the patience the MTL benchmark uses."""

import sys
from pathlib import Path

import pytest

_saved = list(sys.path)
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import group_monitor  # noqa: E402

sys.path[:] = _saved


def _epochs(spo2: list[float], sbp: list[float]) -> list[dict]:
    return [
        {"epoch": i, "val": {"spo2": a, "sbp": b}, "test": {"spo2": 10 * a, "sbp": 10 * b}}
        for i, (a, b) in enumerate(zip(spo2, sbp, strict=True))
    ]


def test_the_rules_part_where_a_stuck_task_swings_and_another_improves():
    """SpO2 keeps improving by 10 % an epoch; SBP has one lucky epoch, then swings between 1.2 and 1.4
    times its first loss. The arithmetic mean stays above that lucky epoch and stops six epochs later;
    the geometric mean sees SpO2's gains and trains on."""
    spo2 = [0.9**i for i in range(20)]
    sbp = [1.0, 0.7] + [1.4 if i % 2 == 0 else 1.2 for i in range(2, 20)]
    epochs = _epochs(spo2, sbp)
    arithmetic = group_monitor.replay(epochs, "arithmetic", patience=6)
    geometric = group_monitor.replay(epochs, "geometric", patience=6)
    assert (arithmetic["kept"], arithmetic["stopped_after"]) == (1, 7)
    assert geometric["kept"] > arithmetic["kept"]
    assert geometric["test"]["spo2"] < arithmetic["test"]["spo2"]


def test_a_rule_that_never_goes_stale_trains_every_epoch_and_keeps_its_best():
    epochs = _epochs([1.0, 0.5, 0.4, 0.45], [1.0, 0.9, 0.8, 0.85])
    for rule in group_monitor.RULES:
        assert group_monitor.replay(epochs, rule, patience=6) == {
            "stopped_after": 3,
            "kept": 2,
            "test": {"spo2": pytest.approx(4.0), "sbp": pytest.approx(8.0)},
        }
