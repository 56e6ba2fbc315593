"""Import CSV exports: a time column plus one or more PPG channels, optionally with label columns,
and optionally a second CSV of reference numerics (the layout of BIDMC's *_Signals.csv and
*_Numerics.csv files)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ppg_models.importers.names import (
    CHANNEL_ALIASES,
    LABEL_ALIASES,
    MS_TIME_ALIASES,
    TIME_ALIASES,
    map_names,
    normalise,
)
from ppg_models.importers.recording import ImportReport, Numeric, Recording
from ppg_models.tasks import TASK_NAMES

SIGNAL_FILE_LABELS = {name: name for name in TASK_NAMES}


class ImportFormatError(ValueError):
    """A source file the importer cannot read; names the file and what is wrong with it."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem}")


SEPARATORS = (",", ";", "\t")


def _dialect(path: Path) -> tuple[str, str]:
    """(separator, decimal mark) from the first two lines: a header's most frequent of ``SEPARATORS``;
    decimal commas where the separator is not a comma and the first data line holds commas (the
    European spreadsheet and device-software export: ``time;pleth`` / ``0,008;1021,5``)."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            header, data = f.readline(), f.readline()
    except OSError as exc:
        raise ImportFormatError(path, f"not readable ({exc.strerror})") from None
    sep = max(SEPARATORS, key=header.count) if any(c in header for c in SEPARATORS) else ","
    return sep, ("," if sep != "," and "," in data else ".")


def _read(path: Path, report: ImportReport | None = None) -> pd.DataFrame:
    sep, decimal = _dialect(path)
    for encoding in ("utf-8-sig", "latin-1"):  # Latin-1 decodes any bytes: Windows exports ("µV", "Zeit")
        try:
            frame = pd.read_csv(path, sep=sep, decimal=decimal, skipinitialspace=True, encoding=encoding)
            break
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise ImportFormatError(path, f"not a readable CSV file ({exc})") from None
    if encoding == "latin-1" and report is not None:
        report.notes.append(f"{path.name}: not UTF-8; read as Latin-1 (Windows export)")
    if frame.empty:
        raise ImportFormatError(path, "no data rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    if report is not None and (sep, decimal) != (",", "."):
        shown = {"\t": "tab"}.get(sep, repr(sep))
        report.notes.append(f"{path.name}: read as {shown}-separated with {decimal!r} as the decimal mark")
    return frame


def _numbers(path: Path, frame: pd.DataFrame, column: str, report: ImportReport) -> np.ndarray:
    """A signal column as floats; cells that are not finite numbers become missing samples, with a note."""
    raw = frame[column]
    x = np.array(pd.to_numeric(raw, errors="coerce"), dtype=float)  # a copy: cells are edited below
    text = np.flatnonzero(np.isnan(x) & raw.notna().to_numpy())
    infinite = np.flatnonzero(np.isinf(x))
    x[infinite] = np.nan
    if text.size:
        report.notes.append(
            f"{path.name}: column {column!r}: {text.size} cells are not numbers (first {raw.iloc[text[0]]!r}"
            f" at data row {text[0] + 1}): read as missing samples"
        )
    if infinite.size:
        report.notes.append(
            f"{path.name}: column {column!r}: {infinite.size} infinite values (first at data row"
            f" {infinite[0] + 1}): read as missing samples"
        )
    empty = int(raw.isna().sum())
    if empty:
        report.notes.append(f"{path.name}: column {column!r}: {empty} empty cells: missing samples")
    return x


TimeUnit = Literal["auto", "s", "ms"]
PLAUSIBLE_FS = (10.0, 5000.0)  # Hz: a PPG export outside this read its time column in the wrong unit


def _times(
    path: Path, frame: pd.DataFrame, column: str | None = None, unit: TimeUnit = "auto"
) -> tuple[str, np.ndarray, pd.Timestamp | None]:
    """The time column's name, seconds from the first row, and the wall-clock start if it has one.
    ``column``: its name when the export's is not a known one; ``unit`` of numbers ("auto": milliseconds
    when the name says so, else seconds). Timestamps are read as timestamps whatever the unit."""
    if column is not None and column.strip() not in frame.columns:
        raise ImportFormatError(path, f"no column {column!r} for the time (columns: {list(frame.columns)})")
    name = column.strip() if column is not None else None
    name = name or next((c for c in frame.columns if normalise(c) in TIME_ALIASES + MS_TIME_ALIASES), None)
    if name is None:
        raise ImportFormatError(
            path,
            f"no time column (looked for {list(TIME_ALIASES)}, or {list(MS_TIME_ALIASES)} in milliseconds;"
            f" columns: {list(frame.columns)}); name yours with --time COLUMN",
        )
    raw = frame[name]
    if pd.api.types.is_numeric_dtype(raw):
        said = normalise(name)  # "Zeit (ms)", "t_ms", "timestamp_millis": the name says milliseconds
        ms = unit == "ms" or (unit == "auto" and (said in MS_TIME_ALIASES or said.endswith(("ms", "millis"))))
        scale = 1e-3 if ms else 1.0
        t, start = raw.to_numpy(dtype=float) * scale, None
    else:
        try:
            stamps = pd.to_datetime(raw, utc=True)
        except (ValueError, TypeError) as exc:
            raise ImportFormatError(
                path, f"column {name!r}: neither seconds nor timestamps ({exc})"
            ) from None
        start = stamps.iloc[0]
        t = (stamps - start).dt.total_seconds().to_numpy()
    if not np.isfinite(t).all():
        raise ImportFormatError(path, f"column {name!r}: {int((~np.isfinite(t)).sum())} rows have no time")
    if t.size < 2:
        raise ImportFormatError(path, f"one data row: column {name!r} cannot tell the sampling rate")
    if t[-1] == t[0]:
        raise ImportFormatError(
            path, f"column {name!r}: the time never advances (all {t.size} rows at {str(raw.iloc[0])!r})"
        )
    steps = np.diff(t)
    if (steps < 0).any():
        row = int(np.flatnonzero(steps < 0)[0]) + 2
        raise ImportFormatError(path, f"column {name!r}: time goes backwards at data row {row}")
    return name, t - t[0], start


def spread_ticks(t: np.ndarray) -> tuple[np.ndarray, int]:
    """Times with repeated stamps spread evenly up to the next tick (clocks that tick every few samples);
    returns them and how many samples had a repeated stamp. The last tick's samples get the typical step.
    """
    ticks = np.r_[True, np.diff(t) > 0]
    repeated = int((~ticks).sum())
    if not repeated:
        return t, 0
    first = np.flatnonzero(ticks)  # index of the first sample of each tick
    counts = np.diff(np.r_[first, t.size])
    tick_times = t[first]
    spans = np.diff(tick_times)
    typical = float(np.median(spans / counts[:-1])) if spans.size else 1.0
    usual = counts[:-1] * typical
    spans = np.where(spans > 1.5 * usual, usual, spans)  # before a gap: the samples, then the gap
    spans = np.r_[spans, counts[-1] * typical]
    within = np.arange(t.size) - np.repeat(first, counts)
    return np.repeat(tick_times, counts) + within * np.repeat(spans / counts, counts), repeated


def _uniform(t: np.ndarray, x: np.ndarray, fs: float) -> np.ndarray:
    """Values of an irregularly sampled channel on a uniform grid; gaps over 2.5 samples stay NaN."""
    grid = np.arange(0, t[-1] + 0.5 / fs, 1 / fs)
    ok = ~np.isnan(x)
    y = np.interp(grid, t[ok], x[ok])
    gap_after = np.searchsorted(t, grid, side="right") - 1
    next_t = t[np.minimum(gap_after + 1, t.size - 1)]
    y[(next_t - t[gap_after]) > 2.5 / fs] = np.nan
    return y


def _labels(
    frame: pd.DataFrame, t: np.ndarray, columns: list[str], aliases: dict[str, str]
) -> dict[str, Numeric]:
    mapped = map_names(columns, aliases)
    out = {}
    for column, task in mapped.items():
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        keep = np.isfinite(values)  # a monitor's blank or "inf" reading is no reading
        out[task] = Numeric(times=t[keep], values=values[keep])
    return out


def read_csv_recording(
    path: str | Path,
    *,
    numerics: str | Path | None = None,
    channel_map: dict[str, str] | None = None,
    fs: float | None = None,
    time_column: str | None = None,
    time_unit: TimeUnit = "auto",
) -> tuple[Recording, ImportReport]:
    """Read a CSV export into a Recording. ``channel_map`` maps column names to channels;
    ``time_column`` names the time column when the export's name is not a known one."""
    path = Path(path)
    report = ImportReport(source_file=str(path))
    frame = _read(path, report)
    time_col, t, start = _times(path, frame, time_column, time_unit)
    t, repeated = spread_ticks(t)
    if repeated:
        report.notes.append(
            f"{repeated} samples shared a time stamp with the previous one (a clock that ticks every few"
            " samples): spread evenly between ticks"
        )
    others = [c for c in frame.columns if c != time_col]
    try:
        channels = map_names(others, CHANNEL_ALIASES, channel_map)
    except ValueError as exc:
        raise ImportFormatError(path, str(exc)) from None
    if not channels:
        raise ImportFormatError(
            path, f"no PPG channel column (columns: {others}); map one, e.g. --channel COLUMN=ir"
        )
    rate = float(fs) if fs else 1.0 / float(np.median(np.diff(t)))
    if not fs and not PLAUSIBLE_FS[0] <= rate <= PLAUSIBLE_FS[1]:  # a time unit taken for another
        raise ImportFormatError(
            path,
            f"column {time_col!r}: one sample every {1 / rate:.4g} s ({rate:.4g} Hz), outside the"
            f" {PLAUSIBLE_FS[0]:g}-{PLAUSIBLE_FS[1]:g} Hz of any PPG export: if the times are not in"
            " seconds, say so with --time-unit ms",
        )
    if abs(rate - round(rate)) < 0.005 * rate:
        rate = float(round(rate))
    regular = np.allclose(np.diff(t), 1 / rate, rtol=0.01, atol=0)
    signals = {}
    for column, channel in channels.items():
        x = _numbers(path, frame, column, report)
        signals[channel] = x if regular else _uniform(t, x, rate)
    if not regular:
        report.notes.append(f"irregular time stamps: interpolated onto a {rate:g} Hz grid")
        gaps = np.diff(t)[np.diff(t) > 2.5 / rate]
        if gaps.size:
            report.notes.append(
                f"{gaps.size} gaps in the recording ({gaps.sum():.1f} s in all, longest {gaps.max():.1f} s):"
                " left as missing samples"
            )
    # In a signals file only columns named exactly after a task are labels: there "RESP" is a waveform.
    label_cols = [c for c in others if c not in channels]
    labels = _labels(frame, t, label_cols, SIGNAL_FILE_LABELS)
    report.ignored_columns = [c for c in label_cols if c not in map_names(label_cols, SIGNAL_FILE_LABELS)]
    if numerics is not None:
        num_frame = _read(Path(numerics), report)
        num_time, num_t, num_start = _times(Path(numerics), num_frame)
        if start is not None and num_start is not None:
            num_t = num_t + (num_start - start).total_seconds()
        num_cols = [c for c in num_frame.columns if c != num_time]
        labels.update(_labels(num_frame, num_t, num_cols, LABEL_ALIASES))
        report.ignored_columns += [
            f"{Path(numerics).name}:{c}" for c in num_cols if c not in map_names(num_cols, LABEL_ALIASES)
        ]
    name = path.stem.removesuffix("_Signals")
    return Recording(name=name, fs=rate, channels=signals, labels=labels, start=start), report
