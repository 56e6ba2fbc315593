"""DSP baselines on a fixed simulated benchmark: per task and motion level, MAE (AUROC for AF).

Run: .venv/bin/python benchmarks/baselines.py [--windows 1000]
Writes benchmarks/results/baselines.json and .md. The benchmark is fixed: seed 2026, two batches of
every source, so figures are comparable between commits.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_io import write_results

from ppg_models.baselines.report import markdown_table, score_baselines
from ppg_models.sim.simulate import batch_sources, simulate_batch

SEED = 2026


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--windows", type=int, default=1000, help="windows per batch (6 batches)")
    args = parser.parse_args()
    tables = [simulate_batch(src, SEED, b, args.windows) for b, src in enumerate(batch_sources(6))]
    n = sum(t.num_rows for t in tables)
    t0 = time.perf_counter()
    scores, _ = score_baselines(tables)
    elapsed = time.perf_counter() - t0
    md = "\n".join(
        [
            f"DSP baselines on the fixed simulated benchmark (seed {SEED}, {n} windows from 6 batches).",
            "MAE in the task's unit, AUROC for AF; n = windows with both a label and an estimate.",
            "",
            markdown_table(scores),
            "",
            f"Baselines ran at {n / elapsed:.0f} windows/s (all tasks, one process).",
        ]
    )
    write_results(
        "baselines",
        {
            "seed": SEED,
            "windows": n,
            "windows_per_s": round(n / elapsed),
            "scores": [s.to_dict() for s in scores],
        },
        md,
    )


if __name__ == "__main__":
    main()
