"""The ``beat_interval`` input: the tachogram of the counted pulses, whatever the export; and models saved
before it existed keep reading the eight inputs they were trained on."""

import json

import numpy as np
import pyarrow as pa
import pytest
import torch
from pulse_windows import clean_windows

from ppg_models.data.arrays import to_list_array
from ppg_models.data.exports import apply_export
from ppg_models.models.inputs import BASE_INPUTS, BEAT_INTERVAL_GAIN, INPUT_CHANNELS, MODEL_FS, prepare_inputs
from ppg_models.training.checkpoint import MANIFEST, ModelIntegrityError, load_bundle, save_bundle

TACHOGRAM = INPUT_CHANNELS.index("beat_interval")
INNER = slice(int(1.5 * MODEL_FS), -int(1.5 * MODEL_FS))  # away from the held ends


def _windows(intervals: list[np.ndarray]) -> pa.Table:
    """Clean raw red/IR windows (10 s at 125 Hz, beats as dips) whose beats follow ``intervals`` (s)."""
    onsets = [-2.0 + np.concatenate([[0.0], np.cumsum(gaps)]) for gaps in intervals]
    return clean_windows(onsets, [60.0 / float(np.mean(gaps)) for gaps in intervals])


def _breathing(mean_s: float, depth: float, breaths_per_min: float) -> np.ndarray:
    """Intervals lengthening and shortening with each breath (respiratory sinus arrhythmia)."""
    t, out = 0.0, []
    while t < 16:
        gap = mean_s * (1 + depth * np.sin(2 * np.pi * breaths_per_min / 60 * t))
        out.append(gap)
        t += gap
    return np.array(out)


def test_a_regular_pulse_gives_a_flat_tachogram():
    x = prepare_inputs(_windows([np.full(20, 0.8), np.full(30, 0.5)])).x[:, TACHOGRAM]
    assert np.abs(x).max() < 0.1


def test_the_tachogram_carries_the_breathing_rhythm_through_every_export():
    """An 8 % respiratory swing of the interval at 15 breaths/min reads as such after exports that remove
    the level, flip the beats, keep one channel or change the rate: what RR can use once an AC-coupled
    export's high-pass has taken the breathing baseline away."""
    windows = _windows([_breathing(0.75, 0.08, 15.0)])
    for export in ("none", "ac_coupled", "inverted", "gain_x1000", "monitor_pleth", "rate_117hz"):
        table = windows if export == "none" else apply_export(windows, export)
        series = prepare_inputs(table).x[0, TACHOGRAM].astype(np.float64)
        swing = np.ptp(series[INNER]) / 2 / BEAT_INTERVAL_GAIN
        assert 0.05 < swing < 0.11, f"{export}: swing {swing:.3f}"
        spectrum = np.abs(np.fft.rfft(series - series.mean(), n=8192))
        peak = np.fft.rfftfreq(8192, 1 / MODEL_FS)[np.argmax(spectrum)] * 60
        assert abs(peak - 15.0) < 3.0, f"{export}: {peak:.1f} breaths/min"


def test_irregular_intervals_read_far_wider_than_breathing():
    """Atrial fibrillation's irregularly irregular intervals (here +-25 %) against sinus rhythm with a
    strong respiratory swing (5 %)."""
    irregular = 0.7 * (1 + np.random.default_rng(3).uniform(-0.25, 0.25, 30))
    x = prepare_inputs(_windows([irregular, _breathing(0.7, 0.05, 15.0)])).x[:, TACHOGRAM]
    assert x[0].std() > 3 * x[1].std()


def test_no_pulse_gives_no_tachogram():
    flat = _windows([np.full(20, 0.8)])
    for channel in ("red", "ir"):
        i = flat.schema.get_field_index(channel)
        flat = flat.set_column(i, channel, to_list_array(np.full((1, 1250), 5.0)))
    assert (prepare_inputs(flat).x[:, TACHOGRAM] == 0).all()


def test_a_model_saved_before_the_tachogram_reads_only_the_eight_inputs_it_was_trained_on(
    tmp_path, small_model, icu_batch
):
    """Registered models keep their answers: a bundle whose spec lists the eight earlier inputs is
    rebuilt with the eight-input layers, and the ninth channel cannot change what it predicts."""
    model = small_model([["hr", "rr", "af"], ["spo2"]], input_channels=list(BASE_INPUTS)).eval()
    save_bundle(model, tmp_path / "model")
    loaded = load_bundle(tmp_path / "model")
    assert loaded.spec.input_channels == list(BASE_INPUTS)
    inputs = prepare_inputs(icu_batch.slice(0, 8))
    scrambled = inputs.x.copy()
    scrambled[:, TACHOGRAM] = np.random.default_rng(0).normal(0, 3, scrambled[:, TACHOGRAM].shape)
    with torch.no_grad():
        a, b = loaded(torch.from_numpy(inputs.x)), loaded(torch.from_numpy(scrambled))
    for task in a:
        torch.testing.assert_close(a[task], b[task], rtol=0, atol=0)
    new = small_model([["hr", "rr", "af"], ["spo2"]])
    assert new.spec.input_channels == list(INPUT_CHANNELS)
    with torch.no_grad():
        c, d = new.eval()(torch.from_numpy(inputs.x)), new(torch.from_numpy(scrambled))
    assert not torch.equal(c["af"], d["af"]), "a new model reads the tachogram"


@pytest.mark.parametrize(
    "channels", [["red", "ir", "pulse"], [*BASE_INPUTS[:7], "accelerometer"], list(INPUT_CHANNELS[::-1])]
)
def test_a_bundle_whose_inputs_this_release_does_not_prepare_is_refused(tmp_path, small_model, channels):
    save_bundle(small_model([["hr"]]), tmp_path / "model")
    manifest = json.loads((tmp_path / "model" / MANIFEST).read_text())
    manifest["spec"]["input_channels"] = channels
    (tmp_path / "model" / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(
        ModelIntegrityError, match=r"input_channels.*not inputs this release prepares.*retrain"
    ):
        load_bundle(tmp_path / "model")
