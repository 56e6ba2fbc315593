"""`ppg simulate`, `ppg import csv|wfdb`, `ppg baselines`, `ppg tasks`: data in the batch format."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli.options import ChannelOpt, JsonOpt, TimeOpt, TimeUnitOpt, batch_files, channel_map
from flows.cli.options import time_unit as time_unit_option
from flows.cli.output import fail, print_json, progress, stdout
from flows.cli.recordings import recording_table, split_inputs


def tasks(json_out: JsonOpt = False) -> None:
    """List the task catalogue."""
    from dataclasses import asdict

    from ppg_models.tasks import TASKS

    if json_out:
        print_json([asdict(t) for t in TASKS])
        return
    for t in TASKS:
        lo, hi = t.valid_range
        need = "+".join(t.needs_all) or "any of " + "/".join(t.needs_any)
        stdout.print(
            f"{t.name:5} {t.kind:10} {t.unit:12} [{lo:g}, {hi:g}]  {t.primary_metric:6} needs {need}"
        )


def simulate(
    out_dir: Annotated[Path, typer.Argument(help="Directory for the batch files.")],
    batches: Annotated[int, typer.Option(min=1, help="Number of batch files.")] = 3,
    windows: Annotated[int, typer.Option(min=1, help="Windows per batch.")] = 500,
    seed: Annotated[int, typer.Option(min=0, help="Same seed, same files.")] = 0,
    source: Annotated[str | None, typer.Option(help="One source for all batches (default: rotate).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Write simulated labeled batches (10 s windows, red + IR) that follow the batch format."""
    from ppg_models.sim.simulate import write_simulated

    try:
        with progress("simulating", batches, quiet=json_out) as advance:
            paths = write_simulated(out_dir, batches, windows, seed, source, on_batch=lambda _: advance())
    except KeyError as exc:
        raise fail(str(exc.args[0]), 2) from None
    if json_out:
        print_json({"files": [str(p) for p in paths], "windows": batches * windows, "seed": seed})
    else:
        for p in paths:
            stdout.print(str(p))


def _write_import(
    rec_report: tuple,
    out: Path,
    subject: str | None,
    source: str,
    device: str,
    fs: float | None,
    window: float,
    hop: float | None,
    json_out: bool,
) -> None:
    from ppg_models.data.batch_io import write_batch
    from ppg_models.data.schema import BatchFormatError
    from ppg_models.importers.recording import to_windows

    rec, report = rec_report
    try:
        table = to_windows(
            rec,
            subject_id=subject or rec.name,
            source=source,
            device=device,
            window_s=window,
            hop_s=hop,
            fs_out=fs,
            report=report,
        )
        if table.num_rows == 0:  # an empty batch would only be quarantined by ingest later
            raise ValueError(f"{rec.name}: no window to write ({'; '.join(report.notes) or 'no samples'})")
        path = write_batch(table, out)
    except (ValueError, BatchFormatError) as exc:
        raise fail(str(exc)) from None
    summary = {
        "file": str(path),
        "windows": report.windows,
        "ignored_columns": report.ignored_columns,
        "implausible_label_samples": report.implausible_label_samples,
        "notes": report.notes,
    }
    if json_out:
        print_json(summary)
    else:
        stdout.print(f"wrote {report.windows} windows to {path}")
        for note in report.notes:
            stdout.print(f"note: {note}")
        for task, n in report.implausible_label_samples.items():
            stdout.print(f"note: {n} {task} reference samples outside the valid range were not used")


ImportOpts = {
    "out": typer.Option("--out", "-o", help="Batch file to write (.parquet)."),
    "source": typer.Option(help="Source name recorded in the batch."),
    "device": typer.Option(help="Device name recorded in the batch."),
    "subject": typer.Option(help="Subject id (default: the record name)."),
    "channel": typer.Option("--channel", help="Map a column to a channel: COLUMN=ir (repeatable)."),
    "fs": typer.Option(help="Resample to this rate (100, 125 or 250 Hz); default: keep."),
    # min: the batch contract's MIN_WINDOW_SECONDS (imported lazily: `ppg --help` stays fast)
    "window": typer.Option(min=2.0, help="Window length in seconds."),
    "hop": typer.Option(min=0.1, help="Seconds between window starts (default: the window; less overlaps)."),
}


def import_csv(
    path: Annotated[Path, typer.Argument(help="CSV with a time column and PPG channel columns.")],
    out: Annotated[Path, ImportOpts["out"]],
    source: Annotated[str, ImportOpts["source"]],
    device: Annotated[str, ImportOpts["device"]],
    numerics: Annotated[
        Path | None, typer.Option(help="CSV of reference numerics (HR, SpO2, RESP...).")
    ] = None,
    subject: Annotated[str | None, ImportOpts["subject"]] = None,
    channel: Annotated[list[str], ImportOpts["channel"]] = [],  # noqa: B006 (typer needs a literal)
    time: TimeOpt = None,
    time_unit: TimeUnitOpt = "auto",
    fs: Annotated[float | None, ImportOpts["fs"]] = None,
    window: Annotated[float, ImportOpts["window"]] = 10.0,
    hop: Annotated[float | None, ImportOpts["hop"]] = None,
    json_out: JsonOpt = False,
) -> None:
    """Import a CSV export (e.g. BIDMC *_Signals.csv with --numerics *_Numerics.csv)."""
    from ppg_models.importers.csv_records import ImportFormatError, read_csv_recording

    unit = time_unit_option(time_unit)
    try:
        rec_report = read_csv_recording(
            path,
            numerics=numerics,
            channel_map=channel_map(channel),
            time_column=time,
            time_unit=unit,  # type: ignore[arg-type]
        )
    except (ImportFormatError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    _write_import(rec_report, out, subject, source, device, fs, window, hop, json_out)


def import_wfdb(
    record: Annotated[Path, typer.Argument(help="WFDB record path without extension (e.g. data/bidmc01).")],
    out: Annotated[Path, ImportOpts["out"]],
    source: Annotated[str, ImportOpts["source"]],
    device: Annotated[str, ImportOpts["device"]],
    numerics: Annotated[Path | None, typer.Option(help="Numerics record (default: RECORD + 'n').")] = None,
    subject: Annotated[str | None, ImportOpts["subject"]] = None,
    channel: Annotated[list[str], ImportOpts["channel"]] = [],  # noqa: B006
    fs: Annotated[float | None, ImportOpts["fs"]] = None,
    window: Annotated[float, ImportOpts["window"]] = 10.0,
    hop: Annotated[float | None, ImportOpts["hop"]] = None,
    json_out: JsonOpt = False,
) -> None:
    """Import a WFDB record in the BIDMC or MIMIC waveform layout."""
    from ppg_models.importers.csv_records import ImportFormatError
    from ppg_models.importers.wfdb_records import read_wfdb_recording

    try:
        rec_report = read_wfdb_recording(record, numerics=numerics, channel_map=channel_map(channel))
    except ImportFormatError as exc:
        raise fail(str(exc)) from None
    _write_import(rec_report, out, subject, source, device, fs, window, hop, json_out)


def baselines(
    inputs: Annotated[
        list[Path], typer.Argument(help="Batch files or directories of them, or CSV recordings (time + PPG).")
    ],
    channel: ChannelOpt = [],  # noqa: B006 (typer needs a literal)
    time: TimeOpt = None,
    time_unit: TimeUnitOpt = "auto",
    json_out: JsonOpt = False,
) -> None:
    """Run the DSP baselines: on labeled batches, per-task and per-motion-level scores; on unlabeled ones
    and on CSV recordings (time + PPG columns, cut into 10 s windows), the per-window estimates."""
    from ppg_models.baselines.report import markdown_table, score_baselines
    from ppg_models.data.batch_io import read_batch
    from ppg_models.data.schema import BatchFormatError
    from ppg_models.importers.csv_records import ImportFormatError

    recordings, batches = split_inputs(inputs)
    unit = time_unit_option(time_unit)
    notes: list[str] = []
    try:
        tables = [read_batch(f) for f in batch_files(batches)] if batches else []  # typer: >= 1 input
        for path in recordings:  # a CSV recording: 10 s windows, estimated (nothing to score against)
            table, _, found = recording_table(path, 10.0, None, time, unit, channel_map(channel))
            tables.append(table)
            notes += [f"{path.name}: {n}" for n in found]
    except (BatchFormatError, ImportFormatError, ValueError) as exc:
        raise fail(str(exc)) from None
    if not json_out:
        for note in notes:
            stdout.print(f"note: {note}", highlight=False)
    scores, joined = score_baselines(tables)
    if not scores:  # no labels to score against: what the baselines estimate is the answer
        estimates = joined.filter(like="est_").rename(columns=lambda c: c.removeprefix("est_")).reset_index()
        if json_out:
            print_json({"scores": [], "estimates": estimates.to_dict(orient="records"), "notes": notes})
            return
        stdout.print("no labels in these batches to score against; per-window DSP estimates:")
        stdout.print(estimates.round(2).to_string(index=False), highlight=False)
        return
    if json_out:
        print_json([s.to_dict() for s in scores])
    else:
        stdout.print(markdown_table(scores), highlight=False)
