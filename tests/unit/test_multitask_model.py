"""Model construction from any task partition, the input pipeline, and channel-aware predictions."""

import numpy as np
import pyarrow as pa
import pytest
import torch
import torch.nn.functional as F
from pydantic import ValidationError

from ppg_models.models.inputs import INPUT_CHANNELS, MODEL_FS, WINDOW_SAMPLES, prepare_inputs
from ppg_models.models.multitask import MultiTaskModel, count_parameters
from ppg_models.models.spec import ModelSpec
from ppg_models.sim.simulate import simulate_batch
from ppg_models.tasks import TASK_NAMES
from ppg_models.training.grouping import partitions
from ppg_models.training.losses import task_losses


def test_every_partition_of_the_catalogue_builds_and_runs(small_model):
    x = torch.randn(2, len(INPUT_CHANNELS), WINDOW_SAMPLES)
    all_partitions = list(partitions(TASK_NAMES))
    assert len(all_partitions) == 203  # Bell number B6
    for groups in all_partitions:
        model = small_model(groups)
        out = model(x)
        assert set(out) == set(TASK_NAMES)
        assert all(v.shape == (2,) for v in out.values())
        assert len(model.backbones) == len(groups)


@pytest.mark.parametrize(
    "groups", [[list(TASK_NAMES)], [[t] for t in TASK_NAMES], [["hr", "af"], ["spo2", "rr"], ["sbp", "dbp"]]]
)
def test_both_ends_and_a_middle_partition_train_one_step(groups, small_model):
    model = small_model(groups)
    x = torch.randn(4, len(INPUT_CHANNELS), WINDOW_SAMPLES)
    targets = {t: torch.randn(4) for t in TASK_NAMES} | {"af": torch.tensor([0.0, 1.0, 0.0, 1.0])}
    loss = sum(task_losses(model(x), targets).values())
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize(
    ("groups", "message"),
    [([["hr"], ["hr", "af"]], "more than one group"), ([["hr"], []], "empty"), ([["temp"]], "unknown tasks")],
)
def test_groups_must_partition_known_tasks(groups, message):
    with pytest.raises(ValidationError, match=message):
        ModelSpec(groups=groups)


def test_hard_sharing_costs_far_fewer_parameters_than_separate_models():
    shared = count_parameters(MultiTaskModel(ModelSpec(groups=[list(TASK_NAMES)])))
    separate = count_parameters(MultiTaskModel(ModelSpec(groups=[[t] for t in TASK_NAMES])))
    assert shared <= 0.6 * separate


def test_inputs_are_resampled_to_the_model_rate_and_scale_free(icu_batch, wearable_batch):
    for table in (icu_batch, wearable_batch):
        inputs = prepare_inputs(table.slice(0, 8))
        assert inputs.x.shape == (8, len(INPUT_CHANNELS), WINDOW_SAMPLES)
        assert inputs.x.dtype == np.float32
    scaled = icu_batch.slice(0, 8)
    for ch in ("red", "ir"):
        values = [np.asarray(v) * 7.5 for v in scaled.column(ch).to_pylist()]
        scaled = scaled.set_column(
            scaled.schema.get_field_index(ch), ch, pa.array(values, pa.list_(pa.float32()))
        )
    np.testing.assert_allclose(prepare_inputs(scaled).x, prepare_inputs(icu_batch.slice(0, 8)).x, atol=2e-4)


def test_the_same_recording_at_another_rate_gives_nearly_the_same_input(icu_batch):
    from scipy.signal import resample_poly

    one = icu_batch.slice(0, 4)
    at_250 = one
    for ch in ("red", "ir"):
        values = [resample_poly(np.asarray(v, float), 2, 1) for v in one.column(ch).to_pylist()]
        at_250 = at_250.set_column(
            at_250.schema.get_field_index(ch), ch, pa.array(values, pa.list_(pa.float32()))
        )
    at_250 = at_250.set_column(at_250.schema.get_field_index("fs"), "fs", pa.array([250.0] * 4))
    a, b = prepare_inputs(one).x, prepare_inputs(at_250).x
    assert MODEL_FS == 125.0
    inner = slice(20, -20)  # filter edges
    assert np.corrcoef(a[:, 1, inner].ravel(), b[:, 1, inner].ravel())[0, 1] > 0.99


def test_windows_without_red_get_no_spo2_and_scaling_changes_no_estimate(icu_batch, small_model):
    model = small_model().eval()
    table = icu_batch.slice(0, 6)
    no_red = table.set_column(table.schema.get_field_index("red"), "red", pa.nulls(6, pa.list_(pa.float32())))
    preds = model.predict(prepare_inputs(no_red))
    assert np.isnan(preds["spo2"]).all()
    assert np.isfinite(preds["hr"]).all()
    assert np.isfinite(preds["af"]).all()
    scaled = table
    for ch in ("red", "ir"):
        values = [np.asarray(v) * 0.25 for v in table.column(ch).to_pylist()]
        scaled = scaled.set_column(
            scaled.schema.get_field_index(ch), ch, pa.array(values, pa.list_(pa.float32()))
        )
    a, b = model.predict(prepare_inputs(table)), model.predict(prepare_inputs(scaled))
    for task in TASK_NAMES:
        np.testing.assert_allclose(a[task], b[task], rtol=1e-3, atol=1e-3)


def test_predictions_are_in_label_units(small_model):
    model = small_model([["hr", "af"]], label_mean={"hr": 70.0}, label_std={"hr": 12.0})
    assert float(model.to_units("hr", torch.tensor(1.0))) == pytest.approx(82.0)
    assert 0 < float(model.to_units("af", torch.tensor(0.3))) < 1


def test_simulated_batch_flows_through_the_whole_pipeline(small_model):
    table = simulate_batch("wearable", seed=2, batch_index=0, n_windows=5)
    model = small_model([["hr", "af"]])
    preds = model.predict(prepare_inputs(table))
    assert set(preds) == {"hr", "af"}
    assert preds["hr"].shape == (5,)


def test_the_af_rhythm_encoder_sees_several_beat_intervals():
    """A change in the pulse 2 s before or after a step reaches that step of AF's private encoder."""
    import torch

    from ppg_models.models.heads import RhythmLogit

    head = RhythmLogit(16, ["af"]).eval()
    x = torch.zeros(1, 1, 1250, requires_grad=True)
    out = head.pulse(x)  # (1, dim, 313) at 31.25 Hz
    out[0, :, 156].sum().backward()  # the middle step, t = 5 s
    reach = torch.nonzero(x.grad[0, 0].abs() > 0).flatten()
    seconds = (int(reach.max()) - int(reach.min())) / 125.0
    assert seconds >= 4.0, f"receptive field {seconds:.2f} s"
    assert RhythmLogit.receptive_field_seconds() >= 4.0


def _pulses(bpm: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Model inputs of noisy pulse waves (fundamental plus a second harmonic) at the given rates, on the
    IR and pulse channels only."""
    t = torch.arange(1250) / 125.0
    n = len(bpm)
    phase = torch.rand(n, 1, generator=generator) * 6.28
    drift = torch.cumsum(torch.randn(n, 1250, generator=generator) * 0.002, dim=1)  # beat-to-beat jitter
    f = (bpm / 60.0)[:, None]
    wave = torch.sin(6.2832 * f * t + phase + drift) + 0.5 * torch.sin(12.566 * f * t + 2 * phase)
    wave = wave + 0.5 * torch.randn(n, 1250, generator=generator)
    x = torch.zeros(n, len(INPUT_CHANNELS), 1250)
    for channel in ("ir", "pulse"):
        x[:, INPUT_CHANNELS.index(channel)] = wave / wave.std(dim=1, keepdim=True)
    return x


def test_the_spectral_hr_head_reads_rates_far_outside_those_it_was_trained_on():
    """Trained on 45-140 bpm only, the HR head reads 160-220 bpm within 3 bpm: it scores frequencies
    with the same weights everywhere, so nothing pulls a fast pulse towards the training middle."""
    from ppg_models.models.heads import SpectralHR

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    head = SpectralHR(16, ["hr"], scaling=(80.0, 20.0))
    optimiser = torch.optim.Adam(head.parameters(), 1e-3)
    features = torch.zeros(32, 16, 10)
    for _ in range(200):
        bpm = torch.empty(32).uniform_(45, 140, generator=g)
        loss = F.smooth_l1_loss(head(features, _pulses(bpm, g))[:, 0], (bpm - 80.0) / 20.0)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    head.eval()
    with torch.no_grad():
        for low, high in ((45, 140), (160, 220)):
            bpm = torch.empty(128).uniform_(low, high, generator=g)
            estimate = head(torch.zeros(128, 16, 10), _pulses(bpm, g))[:, 0] * 20.0 + 80.0
            assert float((estimate - bpm).abs().mean()) < 3.0, (low, high)


def test_the_hr_estimate_is_a_rate_the_head_can_read_whatever_the_shared_features_say():
    """The estimate is a weighted mean of candidate rates: shared features, however extreme, reshape the
    scoring but cannot add an offset or push the estimate outside 30-228 bpm."""
    from ppg_models.models.heads import SpectralHR

    torch.manual_seed(0)
    head = SpectralHR(16, ["hr"]).eval()
    x = _pulses(torch.tensor([40.0, 72.0, 150.0, 210.0]), torch.Generator().manual_seed(3))
    with torch.no_grad():
        for scale in (0.0, 1.0, 1e3, -1e3):
            bpm = head(torch.randn(4, 16, 10) * scale, x)[:, 0]
            assert bool(((bpm >= float(head.bpm.min())) & (bpm <= float(head.bpm.max()))).all()), scale
    assert not any("correction" in name for name, _ in head.named_parameters())


def test_the_hr_head_answers_in_the_models_standardised_units():
    from ppg_models.models.heads import SpectralHR

    torch.manual_seed(0)
    head = SpectralHR(16, ["hr"]).eval()
    torch.manual_seed(0)
    scaled = SpectralHR(16, ["hr"], scaling=(70.0, 12.0)).eval()
    x, features = (
        _pulses(torch.tensor([72.0, 150.0]), torch.Generator().manual_seed(1)),
        torch.zeros(2, 16, 10),
    )
    with torch.no_grad():
        bpm = head(features, x)[:, 0]
        torch.testing.assert_close(scaled(features, x)[:, 0], (bpm - 70.0) / 12.0)


def test_one_channel_is_read_like_several_carrying_the_same_pulse():
    """The HR head scores each light channel with the same weights and averages over those present: an
    IR-only window reads like a red+IR one whose channels agree, not like a window with missing evidence."""
    from ppg_models.models.heads import SpectralHR

    torch.manual_seed(0)
    head = SpectralHR(16, ["hr"], scaling=(80.0, 20.0)).eval()
    only_ir = _pulses(torch.tensor([55.0, 95.0, 180.0]), torch.Generator().manual_seed(2))
    both = only_ir.clone()
    both[:, INPUT_CHANNELS.index("red")] = both[:, INPUT_CHANNELS.index("ir")]
    features = torch.zeros(3, 16, 10)
    with torch.no_grad():
        torch.testing.assert_close(head(features, only_ir), head(features, both))


def _counted(x: torch.Tensor, bpm: float) -> torch.Tensor:
    x = x.clone()
    x[:, INPUT_CHANNELS.index("beat_rate")] = bpm / 60.0
    return x


def test_the_counted_rate_is_taken_where_the_spectrum_agrees_and_the_spectrum_where_it_does_not():
    from ppg_models.models.heads import SpectralHR

    head = SpectralHR(16, ["hr"]).eval()
    x = torch.zeros(1, len(INPUT_CHANNELS), 1250)

    def read(spectral_bpm: float, counted_bpm: float) -> float:
        probs = torch.zeros(1, len(head.bpm))
        k = int((head.bpm - spectral_bpm).abs().argmin())
        probs[0, k] = 1.0  # a confident spectrum at one candidate rate
        spectral = (probs * head.bpm).sum(dim=1, keepdim=True)
        return float(head._mix(spectral, probs, _counted(x, counted_bpm)))

    assert abs(read(75.0, 75.6) - 75.6) < 0.2, "agreement: the counted rate, finer than the bins"
    assert abs(read(120.0, 75.0) - float(head.bpm[int((head.bpm - 120).abs().argmin())])) < 0.01
    assert abs(read(120.0, 0.0) - 120.0) < 1.0, "no beats counted: the spectrum alone"
    assert float(head.bpm[0]) <= read(40.0, 10.0) <= float(head.bpm[-1]), "a count off the band is clamped"
