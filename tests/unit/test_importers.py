"""Importers: CSV and WFDB files written here in the layouts of BIDMC and MIMIC, then read back."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import wfdb

from ppg_models.baselines.run import estimate_vitals
from ppg_models.data.arrays import to_matrix
from ppg_models.data.schema import row_problems
from ppg_models.importers.csv_records import ImportFormatError, read_csv_recording
from ppg_models.importers.recording import ImportReport, Recording, resample, to_windows
from ppg_models.importers.wfdb_records import read_wfdb_recording
from ppg_models.sim.simulate import simulate_batch

FS = 125


@pytest.fixture(scope="module")
def pleth() -> tuple[np.ndarray, np.ndarray]:
    """90 s of continuous-looking IR PPG from six consecutive ICU windows, and their HR labels."""
    t = simulate_batch("icu", seed=21, batch_index=0, n_windows=9)
    return to_matrix(t.column("ir")).ravel().astype(float), t.column("hr").to_numpy()


def _windows(rec: Recording, report: ImportReport | None = None, **kw):
    report = report or ImportReport(source_file=rec.name)
    table = to_windows(rec, subject_id="p1", source="bidmc", device="monitor", report=report, **kw)
    return table, report


def _write_bidmc_csv(folder: Path, pleth: np.ndarray, hr_values: np.ndarray) -> tuple[Path, Path]:
    t = np.arange(pleth.size) / FS
    signals = pd.DataFrame(
        {"Time [s]": t, " RESP": np.sin(t), " PLETH": pleth, " V": 0.0, " AVR": 0.0, " II": 0.0}
    )
    sig_path = folder / "bidmc_01_Signals.csv"
    signals.to_csv(sig_path, index=False)
    seconds = np.arange(int(t[-1]) + 1)
    numerics = pd.DataFrame(
        {"Time [s]": seconds, " HR": hr_values[seconds // 10], " PULSE": 999, " RESP": 16.0, " SpO2": 97.0}
    )
    numerics.loc[3, " HR"] = 0.0  # a monitor's "no reading"
    num_path = folder / "bidmc_01_Numerics.csv"
    numerics.to_csv(num_path, index=False)
    return sig_path, num_path


def test_bidmc_style_csv_import(tmp_path, pleth):
    signal, hr = pleth
    sig, num = _write_bidmc_csv(tmp_path, signal, hr)
    rec, report = read_csv_recording(sig, numerics=num)
    assert rec.fs == FS
    assert set(rec.channels) == {"ir"}
    assert {"hr", "rr", "spo2"} == set(rec.labels)
    table, report = _windows(rec, report)
    assert table.num_rows == 9
    assert row_problems(table) == []
    assert table.column("red").null_count == 9  # a monitor's PLETH is one channel
    np.testing.assert_allclose(table.column("hr").to_numpy(), hr, rtol=1e-5)
    assert report.implausible_label_samples == {"hr": 1}
    assert "RESP" in report.ignored_columns
    assert "bidmc_01_Numerics.csv:PULSE" in report.ignored_columns
    est = estimate_vitals(table)
    assert np.median(np.abs(est.hr.to_numpy() - hr)) < 3
    assert est.spo2.isna().all(), "no red channel, so no SpO2 estimate"


def test_resampling_keeps_the_heart_rate(tmp_path, pleth):
    signal, hr = pleth
    sig, num = _write_bidmc_csv(tmp_path, signal, hr)
    rec, _ = read_csv_recording(sig, numerics=num)
    for target in (100.0, 250.0):
        table, _ = _windows(rec, fs_out=target)
        assert set(table.column("fs").to_numpy()) == {target}
        assert to_matrix(table.column("ir")).shape == (9, int(10 * target))
        assert np.median(np.abs(estimate_vitals(table).hr.to_numpy() - hr)) < 3


def test_overlapping_windows_and_an_unsupported_rate(tmp_path, pleth):
    signal, hr = pleth
    rec, _ = read_csv_recording(_write_bidmc_csv(tmp_path, signal, hr)[0])
    table, _ = _windows(rec, hop_s=5.0)
    assert table.num_rows == 17
    with pytest.raises(ValueError, match="not supported"):
        _windows(rec, fs_out=64.0)


@pytest.mark.parametrize(("kw", "words"), [({"window_s": 0.0}, "window of 0.0 s"),
                                          ({"window_s": 1.5}, "at least 2 s"),
                                          ({"window_s": float("nan")}, "window of nan s"),
                                          ({"hop_s": 0.001}, "hop of 0.001 s"),
                                          ({"hop_s": -5.0}, "hop of -5.0 s")])  # fmt: skip
def test_windows_too_short_for_an_estimate_and_hops_under_a_sample_are_refused(tmp_path, pleth, kw, words):
    """Fuzzed: a 0 s window raised ZeroDivisionError, a negative one numpy's 'negative dimensions'."""
    rec, _ = read_csv_recording(_write_bidmc_csv(tmp_path, *pleth)[0])
    with pytest.raises(ValueError, match=words):
        _windows(rec, **kw)


def test_window_starts_are_the_samples_cut_not_multiples_of_the_hop(tmp_path, pleth):
    signal, _ = pleth
    times = pd.date_range("2026-03-01 08:00", periods=signal.size, freq="8ms", tz="UTC")
    path = tmp_path / "timed.csv"
    pd.DataFrame({"time": times.astype(str), "ir": signal}).to_csv(path, index=False)
    rec, report = read_csv_recording(path)
    table, report = _windows(rec, report, hop_s=0.33)  # 41.25 samples at 125 Hz: 41 are taken
    starts = np.asarray(report.window_starts_s)
    assert starts.size == table.num_rows
    np.testing.assert_allclose(starts, np.arange(table.num_rows) * 41 / FS)
    first = to_matrix(table.column("ir"))[:, 0]
    np.testing.assert_allclose(first, signal[np.rint(starts * FS).astype(int)], rtol=1e-6)
    recorded = table.column("recorded_at").to_numpy(zero_copy_only=False)
    offsets = (recorded - recorded[0]) / np.timedelta64(1, "ms") / 1000
    np.testing.assert_allclose(offsets, starts, atol=1e-3)  # the times written agree with the offsets


def test_an_export_at_117_hz_is_resampled_with_a_note(tmp_path, pleth):
    signal, hr = pleth
    t117 = np.arange(int(signal.size / FS * 117)) / 117
    values = np.interp(t117, np.arange(signal.size) / FS, signal)
    path = tmp_path / "export117.csv"
    pd.DataFrame({"time": t117, "ir": -(values - values.mean())}).to_csv(path, index=False)  # AC, inverted
    rec, report = read_csv_recording(path)
    table, report = _windows(rec, report)
    assert set(table.column("fs").to_numpy()) == {125.0}
    assert "resampled from 117 Hz to 125 Hz (the nearest supported rate)" in report.notes
    assert np.median(np.abs(estimate_vitals(table).hr.to_numpy() - hr[: table.num_rows])) < 3


def test_clock_ticks_carrying_several_samples_are_spread_and_gaps_reported(tmp_path, pleth):
    signal, hr = pleth
    ticks = np.floor(np.arange(signal.size) / FS * 25) / 25  # a 25 Hz clock: five samples per stamp
    frame = pd.DataFrame({"time": ticks, "ir": signal})
    frame = frame[(frame.time < 40) | (frame.time >= 42)]  # a 2 s dropout
    path = tmp_path / "ticks.csv"
    frame.to_csv(path, index=False)
    rec, report = read_csv_recording(path)
    assert rec.fs == FS
    assert any("shared a time stamp" in n and "spread evenly" in n for n in report.notes)
    assert any(n.startswith("1 gaps in the recording (2.0 s") for n in report.notes), report.notes
    table, _ = _windows(rec, report)
    estimates = estimate_vitals(table).hr.to_numpy()
    whole = [i for i in range(table.num_rows) if not 30 <= i * 10 < 50]
    assert np.median(np.abs(estimates[whole] - hr[whole])) < 3


def test_a_resp_waveform_in_a_signals_file_is_not_a_label(tmp_path, pleth):
    signal, hr = pleth
    sig, _ = _write_bidmc_csv(tmp_path, signal, hr)
    rec, report = read_csv_recording(sig)
    assert rec.labels == {}
    assert "RESP" in report.ignored_columns


def test_label_columns_named_after_tasks_in_a_signals_file(tmp_path):
    t = np.arange(2500) / 125
    pd.DataFrame({"t": t, "ir": np.sin(t * 7), "hr": 61.0, "af": 1}).to_csv(tmp_path / "s.csv", index=False)
    table, _ = _windows(read_csv_recording(tmp_path / "s.csv")[0])
    assert table.column("hr").to_pylist() == [61.0, 61.0]
    assert table.column("af").to_pylist() == [1, 1]


def test_irregular_timestamps_and_gaps_are_regridded(tmp_path):
    rng = np.random.default_rng(0)
    t = np.cumsum(rng.uniform(0.007, 0.009, 3000))  # ~125 Hz with jitter
    t = np.delete(t, np.s_[1000:1100])  # a 0.8 s gap
    pd.DataFrame({"timestamp": t, "red": np.sin(t), "ir": np.cos(t)}).to_csv(tmp_path / "j.csv", index=False)
    rec, report = read_csv_recording(tmp_path / "j.csv", fs=125.0)
    assert "irregular" in report.notes[0]
    assert np.isnan(rec.channels["ir"]).sum() > 80


def test_iso_timestamps_set_the_recording_time(tmp_path):
    times = pd.date_range("2026-03-01 08:00", periods=2500, freq="8ms", tz="UTC")
    pd.DataFrame({"time": times.astype(str), "PPG": np.sin(np.arange(2500) / 10)}).to_csv(
        tmp_path / "iso.csv", index=False
    )
    rec, _ = read_csv_recording(tmp_path / "iso.csv")
    table, _ = _windows(rec)
    assert table.column("recorded_at")[1].as_py().isoformat() == "2026-03-01T08:00:10+00:00"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a,b\n1,2\n", "no time column"),
        ("time,ir\n1,1\n0,2\n", "goes backwards at data row 2"),
        ("time,temperature\n0,36\n0.01,36\n", "no PPG channel column"),
        ("time,ir\n", "no data rows"),
        ("time,PLETH,ir\n0,1,1\n0.01,1,1\n", "two columns map to 'ir'"),
    ],
)
def test_bad_csv_files_are_named_with_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ImportFormatError, match=message) as info:
        read_csv_recording(path)
    assert str(path) in str(info.value)


def test_bidmc_style_wfdb_import(tmp_path, pleth):
    signal, hr = pleth
    n = signal.size
    sig = np.column_stack([np.sin(np.arange(n) / 50), signal, np.zeros(n), np.zeros(n), np.zeros(n)])
    wfdb.wrsamp(
        "bidmc01",
        fs=FS,
        units=["pm", "NU", "mV", "mV", "mV"],
        sig_name=["RESP,", "PLETH,", "V,", "AVR,", "II,"],
        p_signal=sig,
        fmt=["16"] * 5,
        adc_gain=[1000.0, 0.5, 1000, 1000, 1000],
        baseline=[0, -16384, 0, 0, 0],
        write_dir=str(tmp_path),
    )
    seconds = np.arange(n // FS)
    num = np.column_stack(
        [
            hr[seconds // 10],
            np.full(seconds.size, 80.0),
            np.full(seconds.size, 14.0),
            np.full(seconds.size, 96.0),
        ]
    )
    wfdb.wrsamp(
        "bidmc01n",
        fs=1,
        units=["bpm", "bpm", "bpm", "%"],
        sig_name=["HR,", "PULSE,", "RESP,", "SpO2,"],
        p_signal=num,
        fmt=["16"] * 4,
        adc_gain=[100.0] * 4,
        baseline=[0] * 4,
        write_dir=str(tmp_path),
    )
    rec, _report = read_wfdb_recording(tmp_path / "bidmc01")
    assert set(rec.channels) == {"ir"}
    assert rec.fs == FS
    table, _ = _windows(rec)
    assert table.num_rows == 9
    np.testing.assert_allclose(table.column("hr").to_numpy(), hr, atol=0.01)
    np.testing.assert_allclose(table.column("rr").to_numpy(), 14.0)
    assert np.median(np.abs(estimate_vitals(table).hr.to_numpy() - hr)) < 3


def test_mimic_style_record_takes_bp_from_the_abp_waveform(tmp_path, pleth):
    signal, _ = pleth
    n = signal.size
    t = np.arange(n) / FS
    abp = 95 + 25 * np.sin(2 * np.pi * 1.2 * t)  # 120/70 mmHg, 72 bpm
    wfdb.wrsamp(
        "3000003_0001",
        fs=FS,
        units=["NU", "mmHg"],
        sig_name=["PLETH", "ABP"],
        p_signal=np.column_stack([signal, abp]),
        fmt=["16", "16"],
        adc_gain=[0.5, 100.0],
        baseline=[-16384, 0],
        write_dir=str(tmp_path),
    )
    rec, report = read_wfdb_recording(tmp_path / "3000003_0001.hea")
    assert "from the ABP waveform" in report.notes[0]
    table, _ = _windows(rec)
    np.testing.assert_allclose(table.column("sbp").to_numpy(), 120, atol=0.5)
    np.testing.assert_allclose(table.column("dbp").to_numpy(), 70, atol=0.5)
    assert row_problems(table) == []


def test_missing_or_damaged_wfdb_records(tmp_path):
    with pytest.raises(ImportFormatError, match="no WFDB header"):
        read_wfdb_recording(tmp_path / "nothing")
    (tmp_path / "broken.hea").write_text("broken 1 125 1000\nbroken.dat 16 200 16 0 0 0 0 PLETH\n")
    with pytest.raises(ImportFormatError, match="unreadable WFDB record"):
        read_wfdb_recording(tmp_path / "broken")


def test_resample_keeps_gaps_as_gaps():
    x = np.sin(np.arange(1250) / 5.0)
    x[300:400] = np.nan
    y = resample(x, 125.0, 250.0)
    assert y.size == 2500
    assert np.isnan(y[620:780]).all()
    assert not np.isnan(y[:590]).any()


def _csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _pleth_lines(signal: np.ndarray, sep: str = ",", decimal: str = ".") -> list[str]:
    return [
        f"{i / FS:.3f}{sep}{v:.3f}".replace(".", decimal) if decimal != "." else f"{i / FS:.3f}{sep}{v:.3f}"
        for i, v in enumerate(signal)
    ]


def test_a_semicolon_export_with_decimal_commas_reads_like_the_comma_one(tmp_path, pleth):
    signal, _ = pleth
    plain, _ = read_csv_recording(_csv(tmp_path / "a.csv", "time,pleth\n" + "\n".join(_pleth_lines(signal))))
    path = _csv(tmp_path / "b.csv", "Time;PLETH\n" + "\n".join(_pleth_lines(signal, ";", ",")))
    european, report = read_csv_recording(path)
    assert european.fs == plain.fs == FS
    np.testing.assert_allclose(european.channels["ir"], plain.channels["ir"])
    assert "read as ';'-separated with ',' as the decimal mark" in " ".join(report.notes)
    tsv = _csv(tmp_path / "c.tsv", "time\tir\n" + "\n".join(_pleth_lines(signal, "\t")))
    tabbed, report = read_csv_recording(tsv)
    np.testing.assert_allclose(tabbed.channels["ir"], plain.channels["ir"])


def test_a_time_column_in_milliseconds_is_read_as_milliseconds(tmp_path, pleth):
    signal, _ = pleth
    lines = [f"{i * 8},{v:.3f}" for i, v in enumerate(signal)]
    rec, _ = read_csv_recording(_csv(tmp_path / "ms.csv", "Time (ms),ppg\n" + "\n".join(lines)))
    assert rec.fs == FS


def test_cells_that_are_not_numbers_become_missing_samples_with_a_note(tmp_path, pleth):
    signal, _ = pleth
    lines = _pleth_lines(signal[:2500])
    lines[100] = lines[100].split(",")[0] + ",--"
    lines[200] = lines[200].split(",")[0] + ",inf"
    rec, report = read_csv_recording(_csv(tmp_path / "t.csv", "time,pleth\n" + "\n".join(lines)))
    assert np.isnan(rec.channels["ir"][[100, 200]]).all()
    assert np.isfinite(np.delete(rec.channels["ir"], [100, 200])).all()
    notes = " ".join(report.notes)
    assert "1 cells are not numbers (first '--' at data row 101)" in notes
    assert "1 infinite values (first at data row 201)" in notes


STUCK = "time,pleth\n5,1000\n5,1001\n5,1002\n"


@pytest.mark.parametrize(
    ("text", "words"), [("time,pleth\n0,1000\n", "one data row"), (STUCK, "never advances")]
)
def test_a_time_column_without_a_rate_is_refused_by_name(tmp_path, text, words):
    """Fuzzed: one row raised 'cannot convert float NaN to integer'; a clock stuck at one value was read
    as a 1 Hz recording and cut into windows of nonsense."""
    with pytest.raises(ImportFormatError, match=words) as info:
        read_csv_recording(_csv(tmp_path / "x.csv", text))
    assert "'time'" in str(info.value)


def test_windows_wholly_inside_a_gap_are_left_out_and_ids_stay_stable(tmp_path, pleth):
    signal, _ = pleth
    t = np.arange(signal.size) / FS
    t = np.where(t >= 30, t + 600, t)  # the sensor came off for ten minutes after 30 s
    path = tmp_path / "gap.csv"
    pd.DataFrame({"time": t, "ir": signal}).to_csv(path, index=False)
    rec, report = read_csv_recording(path)
    table, report = _windows(rec, report)
    ids = table.column("window_id").to_pylist()
    assert len(ids) == 9  # 3 before the gap, 6 after it: the 60 empty windows in between are left out
    assert ids[2].endswith("w00002")
    assert ids[3].endswith("w00063")
    assert report.window_starts_s[3] == pytest.approx(630.0)
    assert "60 windows lie wholly inside gaps (no sample): left out" in report.notes
    assert row_problems(table) == []


def test_a_windows_export_with_its_own_time_column_name_imports_with_notes(tmp_path, pleth):
    """German device software: Latin-1, ';' and decimal commas, time in ms under 'Zeit (ms)'."""
    signal, _ = pleth
    lines = [f"{i * 8};{v:.3f}".replace(".", ",") for i, v in enumerate(signal)]
    path = tmp_path / "de.csv"
    path.write_bytes(("Zeit (ms);Puls (µV)\n" + "\n".join(lines)).encode("latin-1"))
    with pytest.raises(ImportFormatError, match="name yours with --time COLUMN"):
        read_csv_recording(path)
    rec, report = read_csv_recording(
        path, time_column="Zeit (ms)", time_unit="ms", channel_map={"Puls (µV)": "ir"}
    )
    assert rec.fs == FS
    np.testing.assert_allclose(rec.channels["ir"], np.round(signal, 3), atol=1e-3)
    assert "not UTF-8; read as Latin-1" in " ".join(report.notes)
    with pytest.raises(ImportFormatError, match="no column 'Zeit' for the time"):
        read_csv_recording(path, time_column="Zeit")


def test_an_infinite_numeric_reading_is_no_reading(tmp_path, pleth):
    signal, hr = pleth
    sig, num = _write_bidmc_csv(tmp_path, signal, hr)
    frame = pd.read_csv(num)
    frame.loc[15, " HR"] = np.inf
    frame.to_csv(num, index=False)
    rec, _ = read_csv_recording(sig, numerics=num)
    assert np.isfinite(rec.labels["hr"].values).all()
    table, _ = _windows(rec)
    assert row_problems(table) == []


def test_a_time_unit_taken_for_another_is_refused_not_read_as_a_slow_recording(tmp_path, pleth):
    """Times in ms read as seconds made a 0.125 Hz 'recording' cut into 3000 windows of nonsense."""
    signal, _ = pleth
    path = tmp_path / "u.csv"
    pd.DataFrame({"Zeit [ms]": np.arange(signal.size) * 8, "ir": signal}).to_csv(path, index=False)
    assert read_csv_recording(path, time_column="Zeit [ms]")[0].fs == FS  # the name says ms
    with pytest.raises(ImportFormatError, match=r"one sample every 8 s \(0\.125 Hz\).*--time-unit ms"):
        read_csv_recording(path, time_column="Zeit [ms]", time_unit="s")
    pd.DataFrame({"t": np.arange(signal.size) * 0.008, "ir": signal}).to_csv(path, index=False)
    with pytest.raises(ImportFormatError, match=r"1\.25e\+05 Hz"):
        read_csv_recording(path, time_unit="ms")


def test_invalid_wfdb_samples_are_missing_with_a_note(tmp_path, pleth):
    signal, _ = pleth
    gapped = signal.copy()
    gapped[500:875] = np.nan  # 3 s of WFDB's invalid-sample value
    wfdb.wrsamp("gap", fs=FS, units=["NU"], sig_name=["PLETH"], p_signal=gapped[:, None], fmt=["16"],
                write_dir=str(tmp_path))  # fmt: skip
    rec, report = read_wfdb_recording(tmp_path / "gap")
    assert np.isnan(rec.channels["ir"][500:875]).all()
    assert "signal 'PLETH': 375 invalid samples (3.0 s): missing" in report.notes
