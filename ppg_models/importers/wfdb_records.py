"""Import WFDB records laid out like PhysioNet's BIDMC and MIMIC waveform databases.

A waveform record (``bidmc01``, ``3000003_0001``) holds PLETH among other signals; reference numerics
(HR, SpO2, RESP, ABPSys/ABPDias) sit in a companion record named with an ``n`` suffix (``bidmc01n``,
``3000003n``). Where an arterial pressure waveform (ABP) is present and the numerics give no blood
pressure, beat-by-beat systolic peaks and diastolic troughs of the ABP waveform serve as BP labels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import wfdb
from scipy import signal

from ppg_models import dsp
from ppg_models.importers.csv_records import ImportFormatError
from ppg_models.importers.names import CHANNEL_ALIASES, LABEL_ALIASES, map_names, normalise
from ppg_models.importers.recording import ImportReport, Numeric, Recording


def _read(record: Path) -> wfdb.Record:
    if not record.with_suffix(".hea").is_file():
        raise ImportFormatError(record, "no WFDB header (.hea) found")
    try:
        return wfdb.rdrecord(str(record))
    except Exception as exc:  # wfdb raises bare ValueError/OSError/IndexError on damaged files
        raise ImportFormatError(record, f"unreadable WFDB record ({type(exc).__name__}: {exc})") from None


def _numerics_record(record: Path) -> Path | None:
    for name in (f"{record.name}n", f"{record.name.split('_')[0]}n"):
        candidate = record.with_name(name)
        if candidate.with_suffix(".hea").is_file():
            return candidate
    return None


def _abp_labels(abp: np.ndarray, fs: float) -> dict[str, Numeric]:
    """Systolic peaks and diastolic troughs of an arterial pressure waveform, one per beat."""
    smooth = dsp.lowpass(dsp.fill_missing(abp[None, :]), fs, 10.0)[0]
    distance = max(1, int(0.3 * fs))
    peaks, _ = signal.find_peaks(smooth, distance=distance, prominence=10.0)
    troughs, _ = signal.find_peaks(-smooth, distance=distance, prominence=10.0)
    return {
        "sbp": Numeric(times=peaks / fs, values=smooth[peaks]),
        "dbp": Numeric(times=troughs / fs, values=smooth[troughs]),
    }


def read_wfdb_recording(
    record: str | Path,
    *,
    numerics: str | Path | None = None,
    channel_map: dict[str, str] | None = None,
) -> tuple[Recording, ImportReport]:
    """Read a WFDB waveform record (path without extension) and its numerics into a Recording."""
    record = Path(record)
    if record.suffix in (".hea", ".dat"):
        record = record.with_suffix("")
    rec = _read(record)
    report = ImportReport(source_file=str(record))
    names = list(rec.sig_name)
    try:
        channels = map_names(names, CHANNEL_ALIASES, channel_map)
    except ValueError as exc:
        raise ImportFormatError(record, str(exc)) from None
    if not channels:
        raise ImportFormatError(record, f"no PPG signal (signals: {names}); map one, e.g. --channel PLETH=ir")
    data = rec.p_signal
    signals = {ch: data[:, names.index(col)].astype(float) for col, ch in channels.items()}
    for col, ch in channels.items():
        missing = int(np.isnan(signals[ch]).sum())  # WFDB's invalid-sample value reads as NaN
        if missing:
            seconds = missing / rec.fs
            report.notes.append(f"signal {col!r}: {missing} invalid samples ({seconds:.1f} s): missing")
    labels: dict[str, Numeric] = {}
    numerics_path = Path(numerics) if numerics else _numerics_record(record)
    if numerics_path is not None:
        num = _read(numerics_path.with_suffix("") if numerics_path.suffix == ".hea" else numerics_path)
        t = np.arange(num.sig_len) / float(num.fs)
        num_names = list(num.sig_name)
        for column, task in map_names(num_names, LABEL_ALIASES).items():
            values = num.p_signal[:, num_names.index(column)].astype(float)
            keep = np.isfinite(values)
            labels[task] = Numeric(times=t[keep], values=values[keep])
        report.ignored_columns += [
            f"{numerics_path.name}:{c}" for c in num_names if normalise(c) not in LABEL_ALIASES
        ]
    abp = next((n for n in names if normalise(n) in ("abp", "art")), None)
    if abp is not None and not ({"sbp", "dbp"} & set(labels)):
        labels.update(_abp_labels(data[:, names.index(abp)].astype(float), float(rec.fs)))
        report.notes.append(f"blood pressure labels taken beat by beat from the {abp} waveform")
    report.ignored_columns += [n for n in names if n not in channels and n != abp]
    return Recording(
        name=record.name, fs=float(rec.fs), channels=signals, labels=labels, start=rec.base_datetime
    ), report
