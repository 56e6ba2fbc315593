"""CSV recordings named on the command line (`ppg predict`, `ppg baselines`): cut into windows as the
importer cuts them, with the notes the import made."""

from __future__ import annotations

from pathlib import Path


def split_inputs(inputs: list[Path]) -> tuple[list[Path], list[Path]]:
    """(CSV recordings, batch files or directories) among the named inputs."""
    recordings = [p for p in inputs if p.suffix.lower() == ".csv"]
    return recordings, [p for p in inputs if p not in recordings]


def recording_table(
    path: Path,
    window: float,
    hop: float | None,
    time: str | None = None,
    time_unit: str = "auto",
    channels: dict[str, str] | None = None,
):
    """A CSV recording cut into windows (every ``hop`` seconds): the batch table, each window's start in
    seconds from the first sample (the samples cut, not multiples of the hop), and the import's notes.
    ``time``, ``time_unit``, ``channels``: the time column, its unit and the column-to-channel map, as
    ``ppg import csv`` takes them."""
    from ppg_models.importers.csv_records import read_csv_recording
    from ppg_models.importers.recording import to_windows

    rec, report = read_csv_recording(
        path,
        channel_map=channels,
        time_column=time,
        time_unit=time_unit,  # type: ignore[arg-type]
    )
    table = to_windows(
        rec, subject_id=rec.name, source="recording", device="unknown", window_s=window, hop_s=hop,
        report=report,
    )  # fmt: skip
    return table, report.window_starts_s, report.notes
