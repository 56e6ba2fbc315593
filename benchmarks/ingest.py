"""Ingest throughput: windows validated per second on 2 cores, Prefect start-up reported separately.

For each batch size (ICU source, red + IR at 125 Hz, 10 s windows) a fresh lake first accepts a
1,000-window reference batch from the same source, so the timed batch also pays for drift and
cross-lake duplicate checks. The timed step is the whole per-file path the flow's task runs:
hash, read, contract checks, quality features, Great Expectations, drift, duplicate check, decision and
the atomic move. Stage timings of the same batch are reported beside it. Prefect start-up is timed
separately: ``ppg ingest`` on an empty directory (ephemeral server start, flow run, artifacts).

Run: .venv/bin/python benchmarks/ingest.py [--sizes 1000 10000 100000]
Writes benchmarks/results/ingest.json and .md. Target (issue 4): >= 10,000 windows/s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_io import write_results

TARGET = 10_000.0
BLOCK = 10_000  # windows simulated once, then repeated with new ids for larger batches


def _batch(n: int, seed: int) -> pa.Table:
    from ppg_models.sim.simulate import simulate_batch

    block = simulate_batch("icu", seed, 0, min(n, BLOCK))
    parts = []
    for k in range((n + len(block) - 1) // len(block)):
        part = block.slice(0, min(len(block), n - k * len(block)))
        ids = [f"{w}-r{k}" for w in part.column("window_id").to_pylist()]
        parts.append(part.set_column(0, "window_id", pa.array(ids)))
    return pa.concat_tables(parts)


def _stages(path: Path, policy) -> dict[str, float]:
    """Seconds per stage for one batch, measured apart from the full run."""
    from ppg_models.data.batch_io import read_table
    from ppg_models.data.schema import row_problems
    from ppg_models.files import sha256_file
    from ppg_models.ingest.window_frame import window_frame

    out = {}
    t = time.perf_counter()
    sha256_file(path)
    out["hash"] = time.perf_counter() - t
    t = time.perf_counter()
    read = read_table(path)
    out["read_and_conform"] = time.perf_counter() - t
    t = time.perf_counter()
    row_problems(read)
    out["contract_rows"] = time.perf_counter() - t
    t = time.perf_counter()
    frame = window_frame(read, policy.sampling_rates)
    out["quality_features"] = time.perf_counter() - t
    out["_frame"] = frame
    return out


def _one_size(n: int, root: Path) -> dict:
    from flows.ingest.gx_validator import GxValidator
    from ppg_models.data.batch_io import write_batch
    from ppg_models.ingest.intake import process_file
    from ppg_models.ingest.policy import IngestPolicy
    from ppg_models.lake.store import Lake

    lake, policy = Lake.create(root / f"lake-{n}"), IngestPolicy()
    validator = GxValidator(lake.root / "gx", policy)
    reference = write_batch(_batch(1000, seed=99), lake.incoming / "reference.parquet")
    process_file(reference, lake, policy, validator)
    _stages(lake.batch_dir(lake.records()[0]["batch_id"], "accepted") / "batch.parquet", policy)  # warm-up
    table = _batch(n, seed=5)
    path = write_batch(table, lake.incoming / f"icu-{n}.parquet")
    size = path.stat().st_size
    stages = _stages(path, policy)
    frame = stages.pop("_frame")
    t = time.perf_counter()
    validator(frame, policy.sources["icu"], "stage-timing")
    stages["great_expectations"] = time.perf_counter() - t
    t = time.perf_counter()
    outcome = process_file(path, lake, policy, validator)
    total = time.perf_counter() - t
    t = time.perf_counter()
    validator.build_docs()
    docs = time.perf_counter() - t
    return {
        "windows": n,
        "file_mb": round(size / 2**20, 1),
        "outcome": outcome.outcome,
        "seconds": round(total, 3),
        "windows_per_s": round(n / total, 1),
        "stage_seconds": {k: round(v, 3) for k, v in stages.items()},
        "data_docs_build_s": round(docs, 3),
    }


def _prefect_startup(root: Path) -> dict:
    empty = root / "empty"
    empty.mkdir()
    env = {**os.environ, "PPG_HOME": str(root / "startup-home")}
    ppg = Path(sys.executable).with_name("ppg")
    t = time.perf_counter()
    done = subprocess.run([str(ppg), "ingest", str(empty), "--json"], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    json.loads(done.stdout)
    return {"ppg_ingest_empty_dir_s": round(wall, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rows = [_one_size(n, root) for n in args.sizes]
        startup = _prefect_startup(root)
    lines = [
        "# Ingest throughput (2 cores, ICU batches: red + IR, 125 Hz, 10 s windows)",
        "",
        "| windows | file MB | outcome | seconds | windows/s "
        "| hash | read | contract | quality | GE | docs |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        s = r["stage_seconds"]
        lines.append(
            f"| {r['windows']:,} | {r['file_mb']} | {r['outcome']} | {r['seconds']}"
            f" | {r['windows_per_s']:,.0f}"
            f" | {s['hash']} | {s['read_and_conform']} | {s['contract_rows']} | {s['quality_features']}"
            f" | {s['great_expectations']} | {r['data_docs_build_s']} |"
        )
    lines += [
        "",
        f"Target: >= {TARGET:,.0f} windows/s excluding start-up. Stage columns are seconds, measured apart;"
        " 'docs' is the Data Docs build after the batch.",
        "Prefect start-up (`ppg ingest` on an empty directory, ephemeral server):"
        f" {startup['ppg_ingest_empty_dir_s']} s.",
    ]
    write_results(
        "ingest", {"target_windows_per_s": TARGET, "sizes": rows, "startup": startup}, "\n".join(lines)
    )


if __name__ == "__main__":
    main()
