"""Simulator throughput on one core: windows (10 s, red + IR) generated per second, per source.

Run: .venv/bin/python benchmarks/simulator.py [--windows 2000] [--repeats 3]
Writes benchmarks/results/simulator.json and .md. Target (issue 2): >= 2,000 windows/s on one core.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one core, before NumPy loads

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_io import write_results  # noqa: E402

from ppg_models.data.batch_io import write_batch  # noqa: E402
from ppg_models.sim.catalog import DEVICES, SOURCES  # noqa: E402
from ppg_models.sim.simulate import simulate_batch  # noqa: E402

TARGET = 2000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--windows", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    simulate_batch("icu", 0, 0, 50)  # warm-up: imports, subject pools
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for source, spec in SOURCES.items():
            gen, total = [], []
            for r in range(args.repeats):
                t0 = time.perf_counter()
                table = simulate_batch(source, 1, r, args.windows)
                t1 = time.perf_counter()
                write_batch(table, Path(tmp) / f"{source}-{r}.parquet")
                t2 = time.perf_counter()
                gen.append(args.windows / (t1 - t0))
                total.append(args.windows / (t2 - t0))
            device = DEVICES[spec.devices[0]]
            rows.append(
                {
                    "source": source,
                    "fs_hz": device.fs,
                    "channels": 3 if device.has_green else 2,
                    "windows": args.windows,
                    "generate_windows_per_s": round(statistics.median(gen)),
                    "generate_and_write_windows_per_s": round(statistics.median(total)),
                }
            )
    lines = [
        f"Simulator throughput, one core, median of {args.repeats} batches"
        f" of {args.windows} windows (10 s each).",
        "",
        "| source | fs (Hz) | channels | generate (windows/s) | generate + write Parquet (windows/s) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['source']} | {r['fs_hz']:g} | {r['channels']} | {r['generate_windows_per_s']} "
            f"| {r['generate_and_write_windows_per_s']} |"
        )
    slowest = min(r["generate_windows_per_s"] for r in rows)
    lines += [
        "",
        f"Target {TARGET:.0f} windows/s: slowest source {slowest} windows/s"
        f" ({'met' if slowest >= TARGET else 'NOT met'}).",
    ]
    write_results("simulator", {"target_windows_per_s": TARGET, "results": rows}, "\n".join(lines))


if __name__ == "__main__":
    main()
