"""The multi-task benchmark's data: its stratified subject split puts enough AF-positive subjects in every
part (validation >= 5, test >= 20) for every seed it reports, and no subject in two parts."""

import sys
from pathlib import Path

import pytest

from ppg_models.training.data import check_disjoint

# benchmarks/ holds scripts, not a package (and a dashboard.py that would shadow ours): on the path only
# while the benchmark module is imported
_saved = list(sys.path)
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import mtl  # noqa: E402

sys.path[:] = _saved


@pytest.fixture(scope="module")
def quick_table():
    return mtl.benchmark_table(mtl.MODES["quick"])


@pytest.mark.parametrize("seed", range(mtl.MODES["quick"]["seeds"]))
def test_every_part_holds_the_af_subjects_the_gate_judges(quick_table, seed):
    parts, af_subjects = mtl.split(quick_table, mtl.DATA_SEED + seed)
    assert af_subjects["val"] >= 5
    assert af_subjects["test"] >= 20
    assert af_subjects["train"] >= 20
    check_disjoint({name: t.column("subject_id").to_pylist() for name, t in parts.items()})
