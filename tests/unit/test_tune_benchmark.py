"""The search benchmark's own arithmetic: thinning keeps every subject (the evidence), delta_m is positive
for better on every task whatever the metric's direction, and the affinity correlation uses only the
partitions whose pairs have a trusted affinity."""

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

# benchmarks/ holds scripts, not a package (and a dashboard.py that would shadow ours): on the path only
# while the benchmark module is imported
_saved = list(sys.path)
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import tune as bench  # noqa: E402

sys.path[:] = _saved


def test_thinning_keeps_every_subject():
    subjects = [f"s{i % 7}" for i in range(70)]
    table = pa.table({"subject_id": subjects, "x": list(range(70))})
    thin = bench.thinned(table, 3)
    assert set(thin.column("subject_id").to_pylist()) == set(subjects)
    assert thin.num_rows == 7 * 4  # 10 windows each: ranks 0, 3, 6, 9


def test_delta_m_is_positive_for_better_in_either_direction():
    ref = {"hr": 4.0, "spo2": 2.0, "rr": 2.0, "af": 0.8}
    better = {"hr": 3.0, "spo2": 1.5, "rr": 1.5, "af": 0.88}
    assert bench.delta_m(better, ref) == pytest.approx(np.mean([25, 25, 25, 10]))
    assert bench.delta_m(ref, ref) == 0


def test_affinity_correlation_only_over_trusted_partitions():
    tasks = bench.TASKS  # hr, spo2, rr, af: af never labeled with spo2 or rr
    nan = None
    matrix = [[0, 0.2, 0.1, 0.3], [0.2, 0, 0.4, nan], [0.1, 0.4, 0, nan], [0.3, nan, nan, 0]]
    plan = {"affinity": {"tasks": tasks, "matrix": matrix}}
    from flows.tune.space import label
    from ppg_models.training.grouping import partitions

    measured = {label(p): {"fixed": float(i), "upgrad": float(-i), "best": float(i)}
                for i, p in enumerate(partitions(tasks))}  # fmt: skip
    out = bench.affinity_correlation(plan, measured)
    for partition in out["scores"]:  # no scored partition puts AF with SpO2 or RR
        for group in partition.split("|"):
            members = set(group.split("+"))
            assert not ("af" in members and members & {"spo2", "rr"}), partition
    assert out["partitions"] == len(out["scores"]) < 15
    assert out["fixed"]["rho"] == pytest.approx(-out["upgrad"]["rho"])
