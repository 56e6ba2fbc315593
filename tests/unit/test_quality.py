"""Signal-quality features react to the defects they are named after, and only to those."""

import numpy as np
import pyarrow as pa
import pytest

from ppg_models.data.arrays import to_matrix
from ppg_models.data.quality import FEATURES, batch_quality, quality_features

FS = 125.0


def _pulse(n: int = 4, bpm: float = 72.0) -> np.ndarray:
    t = np.arange(1250) / FS
    beat = np.sin(2 * np.pi * bpm / 60 * t) + 0.3 * np.sin(4 * np.pi * bpm / 60 * t)
    return np.tile(30000 - 300 * beat, (n, 1))


def test_clean_pulse_scores_well():
    q = quality_features(_pulse(), FS)
    assert np.all(q["missing_frac"] == 0)
    assert np.all(q["flat_frac"] == 0)
    assert np.all(q["clipped_frac"] == 0)
    assert np.all(q["cardiac_power_ratio"] > 0.95)
    assert q["perfusion_index"] == pytest.approx(
        np.full(4, 100 * 2 * np.sqrt(2) * 300 * np.sqrt(1.09 / 2) / 30000), rel=0.05
    )


def test_nan_burst_is_counted_as_missing_and_other_features_stay_finite():
    x = _pulse()
    x[1, 100:350] = np.nan
    q = quality_features(x, FS)
    assert q["missing_frac"][1] == pytest.approx(0.2)
    assert q["missing_frac"][0] == 0
    assert all(np.isfinite(q[f][1]) for f in FEATURES)


def test_flat_line_window():
    x = _pulse()
    x[2] = 30000.0
    x[3, 500:750] = 30000.0  # 2 s stuck sensor
    q = quality_features(x, FS)
    assert q["flat_frac"][2] == pytest.approx(1.0)
    assert q["flat_frac"][3] == pytest.approx(0.2, abs=0.01)
    assert q["flat_frac"][0] == 0


def test_clipping_at_the_rail():
    x = _pulse()
    x[0] = np.minimum(x[0], 30150)
    q = quality_features(x, FS)
    assert q["clipped_frac"][0] > 0.1
    assert q["clipped_frac"][1] == 0


def test_all_missing_window_gives_nan_features_not_an_error():
    x = _pulse()
    x[0] = np.nan
    q = quality_features(x, FS)
    assert q["missing_frac"][0] == 1
    assert np.isnan(q["skewness"][0])


@pytest.mark.parametrize("scale", [1e3, 1.0, 1e-3, 1e-6, 1e-9])
def test_clipping_reads_the_same_in_any_unit(scale):
    """An AC-coupled pulse of 20 uV written in volts read as clipped at every peak (the rail tolerance
    was 1e-6 of max(1, |level|)); a clipped window stays clipped at any scale."""
    x = _pulse() - 30000.0  # zero-mean, amplitude ~300
    x[0] = np.minimum(x[0], 150)
    q = quality_features(x * scale, FS)
    assert q["clipped_frac"][1] == 0
    assert q["clipped_frac"][0] == pytest.approx(quality_features(x, FS)["clipped_frac"][0])
    assert q["clipped_frac"][0] > 0.1


@pytest.mark.parametrize(("samples", "fs"), [(0, FS), (1, FS), (200, FS), (1250, 0.0), (1250, np.nan),
                                              (1250, -FS), (1250, 1e9)])  # fmt: skip
def test_a_row_too_short_or_at_a_bad_rate_has_no_usable_signal_not_an_error(samples, fs):
    """Under 2 s of signal (or no valid rate): everything counts as missing; before, an empty row raised
    ValueError and a one-sample row IndexError, and ingest reported the file as an error."""
    q = quality_features(_pulse(3)[:, :samples], fs)
    assert list(q["missing_frac"]) == [1.0, 1.0, 1.0]
    assert all(np.isnan(q[f]).all() for f in FEATURES if f != "missing_frac")


def test_scaling_the_amplitude_changes_no_feature_but_none():
    x = _pulse()
    a, b = quality_features(x, FS), quality_features(3 * x, FS)
    for f in FEATURES:
        np.testing.assert_allclose(a[f], b[f], rtol=1e-4, atol=1e-5)  # spectra are float32, as the signals


def test_batch_quality_groups_by_rate_and_names_columns(icu_batch, wearable_batch):
    both = pa.concat_tables([icu_batch.slice(0, 20), wearable_batch.slice(0, 20)])
    q = batch_quality(both)
    assert q.shape[0] == 40
    assert {"ir_flat_frac", "red_skewness", "green_perfusion_index"} <= set(q.columns)
    assert q["green_perfusion_index"].iloc[:20].isna().all()  # the ICU monitor has no green channel
    assert q["green_perfusion_index"].iloc[20:].notna().all()
    direct = quality_features(to_matrix(icu_batch.slice(0, 20).column("ir")), 125.0)["skewness"]
    np.testing.assert_allclose(q["ir_skewness"].iloc[:20], direct)


def test_a_pulse_stands_above_the_noise_floor_and_white_noise_does_not():
    from ppg_models.sim.simulate import simulate_batch

    def pulse_snr_db(x, fs):
        return quality_features(x, fs)["pulse_snr_db"]

    rng = np.random.default_rng(0)
    for fs in (100.0, 125.0, 250.0):
        noise = rng.standard_normal((50, int(10 * fs)))
        assert np.all(pulse_snr_db(noise, fs) < 3.0), "white noise: a sensor off the skin"
        converter_only = np.round(2000 + 0.7 * noise)  # a flat signal with converter noise
        assert np.all(pulse_snr_db(converter_only, fs) < 3.0)
    for source in ("icu", "wearable", "sleep-lab"):
        table = simulate_batch(source, 31, 0, 60)
        still = np.asarray(table.column("motion").to_pylist()) == "none"
        fs = float(table.column("fs").to_numpy()[0])
        x = to_matrix(table.column("ir"))[still].astype(float)
        snr = pulse_snr_db(x, fs)
        assert np.all(snr > 8.0), source
        # offset, gain and polarity say nothing about the pulse
        np.testing.assert_allclose(pulse_snr_db(-0.001 * x + 7.0, fs), snr, atol=0.01)  # float32 FFT
    assert np.isnan(pulse_snr_db(rng.standard_normal((2, 150)), 15.0)).all(), "no floor to read at 15 Hz"
    assert np.all(pulse_snr_db(np.full((2, 1250), 7.0), FS) == 0.0), "a flat line has no pulse"
