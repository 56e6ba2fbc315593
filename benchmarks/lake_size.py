"""Ingest time per file as the lake grows: the same new files checked into a lake that already holds 1
or 100 accepted batches of the same source.

Each lake is filled through the real per-file path (``process_file`` with Great Expectations); then,
after one untimed warm-up file, ``--files`` new 1,000-window ICU batches are ingested one by one and
timed (hash, read, contract, quality, Great Expectations, drift against the source's accepted
windows, duplicate ids against the whole lake, decision, filing). Target (issue 15): the time per
file does not grow with the lake.

Run: .venv/bin/python benchmarks/lake_size.py [--filled 1 100] [--files 5] [--fill-windows 600]
Writes benchmarks/results/lake_size.json and .md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_io import write_results


def _lake(root: Path):
    from ppg_models.lake.store import Lake

    return Lake.create(root) if hasattr(Lake, "create") else Lake(root)


def _process():
    try:  # the layout before issue 15 first, for a before/after measurement from an old checkout
        from ppg_models.lake.intake import process_file
        from ppg_models.lake.policy import IngestPolicy
    except ImportError:
        from ppg_models.ingest.intake import process_file
        from ppg_models.ingest.policy import IngestPolicy
    return process_file, IngestPolicy


def _one_lake(root: Path, filled: int, files: int, fill_windows: int) -> dict:
    from flows.ingest.gx_validator import GxValidator
    from ppg_models.data.batch_io import write_batch
    from ppg_models.sim.simulate import simulate_batch

    process_file, IngestPolicy = _process()
    lake, policy = _lake(root / f"lake-{filled}"), IngestPolicy()
    validator = GxValidator(lake.root / "gx", policy)
    t = time.perf_counter()
    for b in range(filled):
        path = write_batch(
            simulate_batch("icu", 1000 + b, b, fill_windows), lake.incoming / f"fill-{b}.parquet"
        )
        process_file(path, lake, policy, validator)
    fill_s = time.perf_counter() - t
    warm = write_batch(simulate_batch("icu", 8, 499, 1000), lake.incoming / "warm-up.parquet")
    process_file(warm, lake, policy, validator)  # not timed: first-call costs stay out of the figures
    times = []
    for k in range(files):
        path = write_batch(simulate_batch("icu", 7, 500 + k, 1000), lake.incoming / f"new-{k}.parquet")
        t = time.perf_counter()
        outcome = process_file(path, lake, policy, validator)
        times.append(time.perf_counter() - t)
        assert str(outcome.outcome).startswith("accepted"), outcome
    return {
        "batches_in_lake": filled,
        "windows_in_lake": filled * fill_windows,
        "fill_seconds": round(fill_s, 1),
        "per_file_seconds": [round(x, 3) for x in times],
        "median_per_file_s": round(statistics.median(times), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--filled", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--files", type=int, default=5)
    parser.add_argument(
        "--fill-windows", type=int, default=600, help="At least 500: drift runs in every lake."
    )
    parser.add_argument("--name", default="lake_size", help="Result file name (e.g. lake_size-before).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [_one_lake(Path(tmp), n, args.files, args.fill_windows) for n in args.filled]
    ratio = rows[-1]["median_per_file_s"] / rows[0]["median_per_file_s"]
    lines = [
        "# Ingest time per file against the lake's size (2 cores, 1,000-window ICU batches)",
        "",
        "| accepted batches in the lake | windows in the lake | median s per new file | each file (s) |",
        "|---:|---:|---:|---|",
    ]
    for r in rows:
        each = ", ".join(f"{x:.2f}" for x in r["per_file_seconds"])
        lines.append(
            f"| {r['batches_in_lake']} | {r['windows_in_lake']:,} | {r['median_per_file_s']} | {each} |"
        )
    lines += ["", f"Largest lake / smallest lake, median time per file: {ratio:.2f}x (target: about 1x)."]
    write_results(args.name, {"rows": rows, "ratio_largest_to_smallest": round(ratio, 2)}, "\n".join(lines))


if __name__ == "__main__":
    main()
