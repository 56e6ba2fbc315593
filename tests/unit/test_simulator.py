"""The simulator: deterministic, conforming, and physiologically coherent."""

import numpy as np
import pyarrow.compute as pc
import pytest

from ppg_models.data.arrays import to_matrix
from ppg_models.data.quality import quality_features
from ppg_models.data.schema import BATCH_SCHEMA, row_problems
from ppg_models.sim.catalog import DEVICES, SOURCES
from ppg_models.sim.optics import ratio_of_ratios, skin_tone_bias
from ppg_models.sim.pulse import pulse_shape
from ppg_models.sim.rhythm import Breathing, beats_per_minute, draw_beats, draw_breathing
from ppg_models.sim.simulate import batch_sources, simulate_batch, write_simulated
from ppg_models.tasks import TASK_NAMES


def test_same_seed_same_content_other_seed_other_content():
    a = simulate_batch("sleep-lab", seed=3, batch_index=2, n_windows=40)
    b = simulate_batch("sleep-lab", seed=3, batch_index=2, n_windows=40)
    c = simulate_batch("sleep-lab", seed=4, batch_index=2, n_windows=40)
    assert a.equals(b)
    assert not np.allclose(to_matrix(a.column("ir")), to_matrix(c.column("ir")))


def test_written_files_are_identical_for_the_same_seed(tmp_path):
    first = write_simulated(tmp_path / "a", 3, 30, seed=5)
    second = write_simulated(tmp_path / "b", 3, 30, seed=5)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    assert [p.name.split("-s5")[0] for p in first] == list(SOURCES)


@pytest.mark.parametrize("source", list(SOURCES))
def test_batches_conform_and_label_only_the_sources_tasks(source):
    table = simulate_batch(source, seed=1, batch_index=0, n_windows=120)
    assert table.schema.equals(BATCH_SCHEMA, check_metadata=False)
    assert row_problems(table) == []
    for task in TASK_NAMES:
        labeled = table.column(task).null_count == 0
        assert labeled == (task in SOURCES[source].labels), task
    device = DEVICES[SOURCES[source].devices[0]]
    lengths = pc.list_value_length(table.column("ir")).to_numpy()
    assert set(lengths) == {round(10 * device.fs)}
    assert (table.column("green").null_count == 0) == device.has_green


def test_labels_are_physiological_and_systolic_exceeds_diastolic(icu_batch):
    df = icu_batch.to_pandas()
    assert df.hr.between(30, 220).all()
    assert df.rr.between(4, 45).all()
    assert df.spo2.between(70, 100).all()
    assert (df.sbp > df.dbp + 10).all()


def test_the_population_spans_bradycardia_to_tachycardia():
    from ppg_models.sim.catalog import SOURCES
    from ppg_models.sim.subjects import make_pool

    rates = np.concatenate([make_pool(source, 0).resting_hr for source in SOURCES.values()])
    assert (rates > 160).mean() > 0.02, "a tachycardia cohort well above 140 bpm"
    assert (rates < 50).mean() > 0.02, "a bradycardia cohort"
    assert rates.min() >= 30
    assert rates.max() <= 210


def test_subjects_keep_their_traits_across_batches():
    a = simulate_batch("icu", seed=2, batch_index=0, n_windows=400).to_pandas()
    b = simulate_batch("icu", seed=2, batch_index=1, n_windows=400).to_pandas()
    shared = set(a.subject_id) & set(b.subject_id)
    assert shared, "a subject recurs across batches of one source"
    for subject in shared:
        assert a.loc[a.subject_id == subject, "skin_tone"].nunique() == 1
        assert (
            a.loc[a.subject_id == subject, "skin_tone"].iloc[0]
            == b.loc[b.subject_id == subject, "skin_tone"].iloc[0]
        )


def test_heart_rate_label_is_measured_from_generated_beats():
    onsets = np.array([[-0.5, 0.2, 1.0, 1.8, 2.6, 9.9, 1e4]])
    # beats inside [0, 10): 0.2, 1.0, 1.8, 2.6, 9.9 -> 4 intervals over 9.7 s
    assert beats_per_minute(onsets, 10.0)[0] == pytest.approx(60 * 4 / 9.7)


def test_hr_and_rr_labels_are_not_copies_of_the_targets():
    rng = np.random.default_rng(0)
    n = 200
    target_hr = np.full(n, 72.0)
    breathing = draw_breathing(np.full(n, 15.0), rng)
    beats = draw_beats(target_hr, np.zeros(n, bool), np.zeros(n), np.full(n, 0.05), breathing, 10.0, rng)
    hr = beats_per_minute(beats.onsets, 10.0)
    rr = breathing.breaths_per_minute(10.0)
    assert np.abs(hr - 72).mean() < 4
    assert np.std(hr) > 0.3
    assert np.abs(rr - 15).mean() < 4
    assert np.std(rr) > 0.3


def test_breathing_without_wobble_gives_its_rate():
    b = Breathing(np.array([0.25]), np.array([0.3]), np.array([0.0]), np.array([0.1]), np.array([0.0]))
    assert b.breaths_per_minute(10.0)[0] == pytest.approx(15.0)


def _nrmssd(onsets: np.ndarray) -> np.ndarray:
    out = []
    for row in onsets:
        t = row[(row >= 0) & (row < 10)]
        ibi = np.diff(t)
        out.append(np.sqrt(np.mean(np.diff(ibi) ** 2)) / ibi.mean())
    return np.array(out)


def test_af_intervals_are_irregular_and_sinus_ones_are_not():
    rng = np.random.default_rng(1)
    n = 300
    hr = np.full(n, 80.0)
    breathing = draw_breathing(np.full(n, 14.0), rng)
    af = np.arange(n) < n // 2
    beats = draw_beats(hr, af, np.zeros(n), np.full(n, 0.05), breathing, 10.0, rng)
    irregularity = _nrmssd(beats.onsets)
    assert np.median(irregularity[af]) > 3 * np.median(irregularity[~af])
    # AF pulses vary in size with the preceding interval; sinus pulses hardly do
    assert beats.amplitude[af].std() > 3 * beats.amplitude[~af].std()


def test_reflected_wave_returns_earlier_with_higher_pressure_and_stiffness():
    rng = np.random.default_rng(0)
    low = pulse_shape(
        np.array([110.0]), np.array([70.0]), np.array([70.0]), np.array([1.0]), np.array([0.5]), rng
    )
    high = pulse_shape(
        np.array([160.0]), np.array([100.0]), np.array([70.0]), np.array([1.0]), np.array([0.5]), rng
    )
    stiff = pulse_shape(
        np.array([110.0]), np.array([70.0]), np.array([70.0]), np.array([1.8]), np.array([0.5]), rng
    )
    assert high.reflection_delay[0] < low.reflection_delay[0]
    assert stiff.reflection_delay[0] < low.reflection_delay[0]
    assert stiff.reflection_ratio[0] > low.reflection_ratio[0]


def test_ratio_of_ratios_in_the_signal_matches_the_spo2_label(icu_batch):
    from ppg_models.baselines.estimators import spo2_ratio_of_ratios

    df = icu_batch.select(["spo2", "motion", "skin_tone"]).to_pandas()
    clean = (df.motion == "none").to_numpy().copy()
    red, ir = to_matrix(icu_batch.column("red")), to_matrix(icu_batch.column("ir"))
    clean &= quality_features(ir, 125.0)["clipped_frac"] < 0.01  # clipping breaks the ratio, as in reality
    measured = spo2_ratio_of_ratios(red[clean], ir[clean], 125.0)
    label = df.spo2.to_numpy()[clean]
    # the nominal curve applied to the signal gives label + skin bias - 25 * device offset
    expected = 110 - 25 * (ratio_of_ratios(label + skin_tone_bias(df.skin_tone.to_numpy()[clean], label)))
    assert np.median(np.abs(measured - expected)) < 1.0
    assert np.corrcoef(measured, label)[0, 1] > 0.9


def test_darker_skin_lowers_the_signal_level():
    df = simulate_batch("wearable", seed=0, batch_index=0, n_windows=600)
    ir = to_matrix(df.column("ir"))
    tone = df.column("skin_tone").to_numpy()
    assert np.median(ir[tone == 1].mean(axis=1)) > np.median(ir[tone == 6].mean(axis=1)) * 1.15


def test_walking_adds_power_inside_the_cardiac_band(wearable_batch):
    """Walking cadence (1.5-2 Hz) lies in the cardiac band: it raises the band's share of the power,
    so the power ratio alone cannot tell motion from pulse (ingest uses it as a floor only)."""
    ir = to_matrix(wearable_batch.column("ir"))
    motion = np.array(wearable_batch.column("motion").to_pylist())
    ratio = quality_features(ir, 100.0)["cardiac_power_ratio"]
    still, walking = np.median(ratio[motion == "none"]), np.median(ratio[motion == "high"])
    assert walking > still + 0.2, (still, walking)


def test_batches_rotate_sources_unless_one_is_named():
    assert batch_sources(4) == ["icu", "wearable", "sleep-lab", "icu"]
    assert batch_sources(2, "wearable") == ["wearable", "wearable"]
    with pytest.raises(KeyError, match="known sources"):
        batch_sources(1, "mars")
