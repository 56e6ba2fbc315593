"""Behavioural tests on a trained model: a faster pulse gives a higher HR; amplitude changes nothing;
device exports (AC-coupled, rescaled, inverted, other rates, quantised, one channel) leave HR within
tolerance; SpO2 is withheld where the export has no physical level.

The model trains for 8 epochs on partly augmented windows (about a minute on 2 cores), so every test
here is marked slow.
"""

import numpy as np
import pyarrow as pa
import pytest
from pulse_windows import clean_windows

from ppg_models.data.arrays import to_list_array
from ppg_models.data.exports import apply_export, augment
from ppg_models.models.inputs import prepare_inputs
from ppg_models.sim.simulate import simulate_batch
from ppg_models.training.config import TrainConfig
from ppg_models.training.data import split_by_subject, windows_from_table
from ppg_models.training.trainer import train

RATES = (50, 65, 80, 95, 110)


@pytest.fixture(scope="module")
def hr_model(tmp_path_factory):
    tables = [simulate_batch(s, 9, b, 500) for b, s in enumerate(["icu", "wearable", "sleep-lab"])]
    ws = windows_from_table(augment(pa.concat_tables(tables), 0.4, seed=0))
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


def _regular_windows(rates, amplitude: float = 1.0, fs: float = 125.0) -> pa.Table:
    """Clean red/IR windows with perfectly regular beats at each rate, sampled at ``fs`` for 10 s."""
    onsets = [-3 + 60.0 / bpm * np.arange(60) for bpm in rates]
    return clean_windows(onsets, list(rates), fs=fs, amplitude=amplitude)


@pytest.mark.slow
def test_a_faster_pulse_gives_a_higher_heart_rate(hr_model):
    estimates = hr_model.predict(prepare_inputs(_regular_windows(RATES)))["hr"]
    assert np.all(np.diff(estimates) > 0), estimates
    assert np.abs(estimates - np.array(RATES)).max() < 15, estimates  # an 8-epoch toy model


@pytest.mark.slow
def test_scaling_the_amplitude_leaves_the_estimates_alone(hr_model):
    base = hr_model.predict(prepare_inputs(_regular_windows(RATES)))
    for factor in (0.2, 3.0):
        scaled = hr_model.predict(prepare_inputs(_regular_windows(RATES, amplitude=factor)))
        for task in base:
            np.testing.assert_allclose(scaled[task], base[task], rtol=1e-3, atol=1e-2)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("export", "tolerance"),
    [("gain_x1000", 0.05), ("quantised_12bit", 1.0), ("rate_117hz", 3.0), ("rate_500hz", 3.0),
     ("only_ir", 5.0),  # the HR head scores each channel alike: IR alone reads like red and IR
     ("ac_coupled", 6.0), ("inverted", 6.0), ("monitor_pleth", 6.0)],
)  # fmt: skip
def test_device_exports_leave_the_heart_rate_within_tolerance(hr_model, export, tolerance):
    windows = _regular_windows(RATES)
    base = hr_model.predict(prepare_inputs(windows))["hr"]
    exported = hr_model.predict(prepare_inputs(apply_export(windows, export)))["hr"]
    assert np.abs(exported - base).max() < tolerance, (export, base, exported)


@pytest.mark.slow
def test_an_inverted_export_is_read_like_its_upright_copy_and_spo2_needs_a_physical_level(hr_model):
    windows = _regular_windows(RATES)
    upright = prepare_inputs(apply_export(windows, "ac_coupled"))
    inverted = prepare_inputs(apply_export(windows, "inverted"))
    assert upright.flipped.all(), "AC-coupled light intensity: beats as dips, turned up"
    assert not inverted.flipped.any(), "already beats as peaks"
    np.testing.assert_allclose(inverted.x, upright.x, atol=1e-4)
    raw = prepare_inputs(windows)
    assert raw.level[:, :2].all(), "raw light intensity has a physical level on red and IR"
    assert not upright.level.any(), "an AC-coupled export has none"
    assert np.isfinite(hr_model.predict(raw)["spo2"]).all()
    assert np.isnan(hr_model.predict(upright)["spo2"]).all(), "SpO2 withheld without DC levels"


def test_the_counted_beat_rate_input_reads_the_pulse_whatever_the_export():
    """The HR head's counted-rate evidence is the regular pulse's rate, the same after every export
    transform, and 0 (no evidence) on a window without a signal."""
    from ppg_models.models.inputs import INPUT_CHANNELS

    beat = INPUT_CHANNELS.index("beat_rate")
    windows = _regular_windows(RATES)
    base = prepare_inputs(windows).x[:, beat, 0] * 60.0
    np.testing.assert_allclose(base, RATES, atol=1.0)
    assert np.ptp(prepare_inputs(windows).x[:, beat], axis=1).max() == 0, "constant over the window"
    for export in ("ac_coupled", "inverted", "gain_x1000", "rate_117hz", "only_ir", "monitor_pleth"):
        exported = prepare_inputs(apply_export(windows, export)).x[:, beat, 0] * 60.0
        np.testing.assert_allclose(exported, base, atol=1.0, err_msg=export)
    flat = windows.set_column(2, "red", to_list_array(np.full((len(RATES), 1250), 5.0)))
    flat = flat.set_column(3, "ir", to_list_array(np.full((len(RATES), 1250), 5.0)))
    assert (prepare_inputs(flat).x[:, beat] == 0).all()


@pytest.mark.parametrize("fs", [100.0, 117.0, 128.0, 250.0])
def test_a_device_sampling_at_another_rate_gives_the_model_the_same_inputs(fs):
    """The same pulses sampled by the device at ``fs`` (not resampled from 125 Hz): after the input
    step's resampling the model sees what a 125 Hz device gives. Raw PPG rides on a level ~150 times
    its pulse; resampling that level through polyphase branches of unequal DC gain once left a ripple
    of ~14 % of the pulse at 128 Hz (and a beat gained or lost in 5 % of windows); here 4-11 % RMS
    at 100-128 Hz before, about 1 % after."""
    from ppg_models.models.inputs import INPUT_CHANNELS

    native = prepare_inputs(_regular_windows(RATES)).x
    other = prepare_inputs(_regular_windows(RATES, fs=fs)).x
    inner = slice(125, -125)  # resampling edges aside
    for channel in ("red", "ir", "pulse"):
        c = INPUT_CHANNELS.index(channel)
        diff = other[:, c, inner] - native[:, c, inner]  # RMS: a sampled cusp differs more at one sample
        gap = np.sqrt(np.mean(diff**2)) / native[:, c, inner].std()
        assert gap < 0.03, f"{channel} at {fs:g} Hz differs by {gap:.1%} of its spread (RMS)"
    beat = INPUT_CHANNELS.index("beat_rate")
    np.testing.assert_allclose(other[:, beat, 0] * 60, native[:, beat, 0] * 60, atol=0.5)
