"""Behavioural tests on a trained model: a faster pulse gives a higher HR; amplitude changes nothing.

The model trains for 8 epochs (about half a minute on 2 cores), so every test here is marked slow.
"""

import numpy as np
import pyarrow as pa
import pytest

from ppg_models.data.arrays import to_list_array
from ppg_models.models.inputs import prepare_inputs
from ppg_models.sim.pulse import pulse_shape, render_pulse
from ppg_models.sim.rhythm import Beats
from ppg_models.sim.simulate import simulate_batch
from ppg_models.training.config import TrainConfig
from ppg_models.training.data import split_by_subject, windows_from_table
from ppg_models.training.trainer import train

RATES = (50, 65, 80, 95, 110)


@pytest.fixture(scope="module")
def hr_model(tmp_path_factory):
    tables = [simulate_batch(s, 9, b, 500) for b, s in enumerate(["icu", "wearable", "sleep-lab"])]
    ws = windows_from_table(pa.concat_tables(tables))
    parts = split_by_subject(ws.meta["subject_id"].tolist(), seed=0)
    cfg = TrainConfig.from_dict(
        {
            "data": {"paths": ["in-memory"]},
            "model": {
                "tasks": ["hr", "spo2"],
                "backbone_params": {"widths": [16, 16, 32, 32], "stem_width": 16},
            },
            "optim": {"epochs": 8, "batch_size": 32, "lr": 3e-3},
        }
    )
    return train(
        cfg, ws.subset(parts["train"]), ws.subset(parts["val"]), tmp_path_factory.mktemp("hr"), resume=False
    ).model


def _regular_windows(rates, amplitude: float = 1.0) -> pa.Table:
    """Clean red/IR windows with perfectly regular beats at each rate."""
    ir, red = [], []
    for bpm in rates:
        onsets = -3 + 60.0 / bpm * np.arange(60)[None, :]
        shape = pulse_shape(
            np.array([120.0]),
            np.array([80.0]),
            np.array([float(bpm)]),
            np.array([1.0]),
            np.array([0.5]),
            np.random.default_rng(0),
        )
        pulse = render_pulse(Beats(onsets, np.ones_like(onsets)), shape, 125.0, 1250)[0]
        ir.append(amplitude * 30000 * (1 - 0.02 * pulse))
        red.append(amplitude * 24000 * (1 - 0.012 * pulse))
    n = len(rates)
    return pa.table(
        {
            "window_id": [f"w{i}" for i in range(n)],
            "fs": [125.0] * n,
            "red": to_list_array(np.stack(red)),
            "ir": to_list_array(np.stack(ir)),
            "green": pa.nulls(n, pa.list_(pa.float32())),
        }
    )


@pytest.mark.slow
def test_a_faster_pulse_gives_a_higher_heart_rate(hr_model):
    estimates = hr_model.predict(prepare_inputs(_regular_windows(RATES)))["hr"]
    assert np.all(np.diff(estimates) > 0), estimates
    assert np.abs(estimates - np.array(RATES)).max() < 10, estimates


@pytest.mark.slow
def test_scaling_the_amplitude_leaves_the_estimates_alone(hr_model):
    base = hr_model.predict(prepare_inputs(_regular_windows(RATES)))
    for factor in (0.2, 3.0):
        scaled = hr_model.predict(prepare_inputs(_regular_windows(RATES, amplitude=factor)))
        for task in base:
            np.testing.assert_allclose(scaled[task], base[task], rtol=1e-3, atol=1e-2)
