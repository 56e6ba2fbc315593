import numpy as np
import pytest
import torch

from ppg_models.models.inputs import INPUT_CHANNELS
from ppg_models.models.multitask import MultiTaskModel
from ppg_models.models.spec import ModelSpec
from ppg_models.training.affinity import AffinityTracker
from ppg_models.training.grouping import grouping_score, partitions, propose_groupings


def test_lookahead_leaves_the_model_unchanged_and_fills_labeled_pairs():
    torch.manual_seed(0)
    model = MultiTaskModel(
        ModelSpec(groups=[["hr", "rr", "af"]], backbone_params={"widths": [8, 8, 16, 16], "stem_width": 8})
    )
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(8, len(INPUT_CHANNELS), 1250)
    targets = {"hr": torch.randn(8), "rr": torch.randn(8), "af": torch.full((8,), float("nan"))}
    tracker = AffinityTracker(["hr", "rr", "af"])
    tracker.measure(model, x, targets, lr=0.05)
    assert model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    z = tracker.matrix()
    assert np.isfinite(z[0, 1])
    assert np.isfinite(z[1, 0])
    assert np.isnan(z[0, 2])
    assert np.isnan(z[2, 0])


def test_partitions_count_stirling_numbers():
    assert len(list(partitions("abcd", 2))) == 7
    assert len(list(partitions("abcde", 3))) == 25
    assert all(sorted(t for g in p for t in g) == list("abcd") for p in partitions("abcd"))


def test_selector_groups_tasks_that_help_each_other():
    tasks = ["a", "b", "c", "d"]
    z = np.full((4, 4), -0.1)
    z[0, 1] = z[1, 0] = 0.5  # a and b help each other
    z[2, 3] = z[3, 2] = 0.4  # so do c and d
    best, score = propose_groupings(z, tasks, n_groups=2, top=1)[0]
    assert sorted(map(sorted, best)) == [["a", "b"], ["c", "d"]]
    assert score == pytest.approx(1.8)
    assert grouping_score([["a"], ["b"], ["c"], ["d"]], z, tasks) == 0.0
    with pytest.raises(ValueError, match="n_groups"):
        propose_groupings(z, tasks, n_groups=5)
