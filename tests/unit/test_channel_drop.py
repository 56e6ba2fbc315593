"""Channel dropout per training step: a reduced window is what a real single-channel export of it gives."""

import numpy as np
import pytest
import torch

from ppg_models.data.exports import apply_export
from ppg_models.models.inputs import INPUT_CHANNELS, prepare_inputs, pulse_channel
from ppg_models.models.spec import ModelSpec
from ppg_models.sim.simulate import simulate_batch
from ppg_models.tasks import CHANNELS
from ppg_models.training.batches import training_batch
from ppg_models.training.channel_drop import drop_channels
from ppg_models.training.data import windows_from_table


@pytest.fixture(scope="module")
def tables():
    return {s: simulate_batch(s, 3, i, 60) for i, s in enumerate(("icu", "wearable"))}


@pytest.mark.parametrize(("source", "kept"), [("icu", "ir"), ("wearable", "ir"), ("wearable", "green")])
def test_a_reduced_window_equals_the_single_channel_export_of_it(tables, source, kept):
    table = tables[source]
    full = prepare_inputs(table)
    x, present, level, rows = drop_channels(
        full.x.copy(), full.present, full.level, 1.0, np.random.default_rng(0)
    )
    assert rows.size == len(table)  # every window had more than one channel
    to_kept = present[:, CHANNELS.index(kept)]
    if source == "wearable":  # half of the wearable's windows (IR and green) are reduced to green
        assert 0.3 < to_kept.mean() < 0.7
    real = prepare_inputs(apply_export(table, f"only_{kept}"))
    np.testing.assert_array_equal(present[to_kept], real.present[to_kept])
    np.testing.assert_array_equal(level[to_kept], real.level[to_kept])
    same = to_kept & (full.flipped == real.flipped)  # orientation is voted per export: nearly always equal
    assert same.sum() > 0.95 * to_kept.sum()
    np.testing.assert_allclose(x[same], real.x[same], atol=1e-5)
    assert not x[:, INPUT_CHANNELS.index("red")].any()
    assert not x[:, INPUT_CHANNELS.index("pi_red")].any()


def test_the_share_is_drawn_per_window_and_single_channel_windows_are_left_alone(tables):
    full = prepare_inputs(tables["icu"])
    _, _, _, rows = drop_channels(full.x.copy(), full.present, full.level, 0.3, np.random.default_rng(1))
    assert 0.1 < rows.size / len(full.x) < 0.5
    only_ir = prepare_inputs(apply_export(tables["icu"], "only_ir"))
    x, present, _, rows = drop_channels(
        only_ir.x.copy(), only_ir.present, only_ir.level, 1.0, np.random.default_rng(1)
    )
    assert rows.size == 0
    np.testing.assert_array_equal(x, only_ir.x)
    np.testing.assert_array_equal(pulse_channel(present), CHANNELS.index("ir"))


def test_a_reduced_window_is_not_trained_on_spo2_but_keeps_its_other_labels(tables):
    ws = windows_from_table(tables["icu"])
    spec = ModelSpec(groups=[["hr", "spo2", "af"]])
    idx = np.arange(len(ws))
    labelled = {t: ~np.isnan(ws.labels[t]) for t in ("hr", "spo2", "af")}
    assert labelled["spo2"].sum() > 10
    x, targets = training_batch(ws, idx, spec, torch.device("cpu"), 1.0, np.random.default_rng(0))
    assert torch.isnan(targets["spo2"]).all()
    for task in ("hr", "af"):
        np.testing.assert_array_equal(~torch.isnan(targets[task]).numpy(), labelled[task])
    red = INPUT_CHANNELS.index("red")
    assert not x[:, red].any()
    np.testing.assert_array_equal(ws.x[:, red].any(axis=1), ws.present[:, 0])  # the stored windows: untouched
    _, kept = training_batch(ws, idx, spec, torch.device("cpu"), 0.0, np.random.default_rng(0))
    np.testing.assert_array_equal(~torch.isnan(kept["spo2"]).numpy(), labelled["spo2"])
