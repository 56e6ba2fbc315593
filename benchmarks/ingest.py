"""Ingest end to end, as a user runs it: `ppg ingest DIR --json` in a fresh process, 2 cores.

Cases: one batch of 1k, 10k, 100k and 200k windows (ICU: red + IR at 125 Hz, 10 s windows), and a
folder of 50 small files (1k windows each, so the run's fixed cost is shared). Each case runs in a
fresh PPG_HOME whose lake first accepted a 1,000-window reference batch of the same source, so the
timed run also pays for drift and cross-lake duplicate checks. Reported per case: wall time of the
whole command (Prefect start-up and shutdown included), the flow's own time (from Prefect ready to the
summary, measured inside the command), windows per second both ways, and the peak resident memory of
the command's processes.

Every case runs ``--repeats`` times (default 3), each in a fresh home; the table gives the median and,
for wall time, the range: on this 2-core VM four runs of the 50-file case took 12.6 to 19.6 s with
nearly the same code, so a single run says little.

Run: .venv/bin/python benchmarks/ingest.py [--sizes 1000 10000 100000 200000] [--small-files 50]
[--repeats 3]. Writes benchmarks/results/ingest.json and .md. Targets (issue 12): >= 10,000 windows/s
end to end for batches of >= 10k windows; >= 5,000 for a run of 1k-window files; peak memory <= 1 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_io import write_results

PPG = Path(sys.executable).with_name("ppg")
BLOCK = 10_000  # windows simulated once, then repeated with new ids for larger batches
MEASURE = (  # runs the command and prints its wall time and the peak RSS (KiB) of its processes
    "import json, resource, subprocess, sys, time; t = time.perf_counter();"
    " done = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
    " print(json.dumps({'rc': done.returncode, 'wall': time.perf_counter() - t, 'stdout': done.stdout,"
    " 'stderr': done.stderr[-2000:], 'maxrss_kib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))"
)


def _batch(n: int, seed: int, tag: str) -> pa.Table:
    from ppg_models.sim.simulate import simulate_batch

    block = simulate_batch("icu", seed, 0, min(n, BLOCK))
    parts = []
    for k in range((n + len(block) - 1) // len(block)):
        part = block.slice(0, min(len(block), n - k * len(block)))
        ids = [f"{w}-{tag}-r{k}" for w in part.column("window_id").to_pylist()]
        parts.append(part.set_column(0, "window_id", pa.array(ids)))
    return pa.concat_tables(parts)


def _ppg(home: Path, *args: str) -> dict:
    env = {**os.environ, "PPG_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(PPG), *args], env=env, capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout)
    if result["rc"] != 0:
        raise SystemExit(f"ppg {' '.join(args)} failed: {result['stderr']}")
    return result


def _home_with_reference(root: Path, name: str) -> Path:
    from ppg_models.data.batch_io import write_batch

    home = root / name
    write_batch(_batch(1000, 99, "ref"), home / "reference" / "reference.parquet")
    _ppg(home, "ingest", str(home / "reference"), "--json")
    return home


def _case(root: Path, name: str, files: list[pa.Table], startup_s: float) -> dict:
    from ppg_models.data.batch_io import write_batch

    home = _home_with_reference(root, name)
    drop = home / "drop"
    for i, table in enumerate(files):
        write_batch(table, drop / f"{name}-{i:03d}.parquet")
    size_mb = sum(p.stat().st_size for p in drop.iterdir()) / 2**20
    windows = sum(t.num_rows for t in files)
    run = _ppg(home, "ingest", str(drop), "--json")
    summary = json.loads(run["stdout"])
    flow_s = summary["timings"]["flow_s"]  # measured inside the command, from Prefect ready to the end
    return {
        "case": name,
        "files": len(files),
        "windows": windows,
        "file_mb": round(size_mb, 1),
        "outcomes": {k: v for k, v in summary["counts"].items() if not k.endswith("windows")},
        "wall_s": round(run["wall"], 2),
        "prefect_ready_s": summary["timings"]["prefect_ready_s"],
        "without_startup_s": round(flow_s, 2),
        "windows_per_s_end_to_end": round(windows / run["wall"], 1),
        "windows_per_s_without_startup": round(windows / flow_s, 1),
        "peak_rss_mb": round(run["maxrss_kib"] / 1024, 1),
    }


def _median_case(runs: list[dict]) -> dict:
    """One row from repeated runs of a case: medians, the wall-time range, the largest peak memory."""
    mid = {
        k: float(np.median([r[k] for r in runs])) for k in ("wall_s", "prefect_ready_s", "without_startup_s")
    }
    windows = runs[0]["windows"]
    return {
        **{k: runs[0][k] for k in ("case", "files", "windows", "file_mb", "outcomes")},
        "repeats": len(runs),
        "wall_s": round(mid["wall_s"], 2),
        "wall_s_range": [min(r["wall_s"] for r in runs), max(r["wall_s"] for r in runs)],
        "prefect_ready_s": round(mid["prefect_ready_s"], 2),
        "without_startup_s": round(mid["without_startup_s"], 2),
        "windows_per_s_end_to_end": round(windows / mid["wall_s"], 1),
        "windows_per_s_without_startup": round(windows / mid["without_startup_s"], 1),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000, 200_000])
    parser.add_argument("--small-files", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3, help="runs of every case (the median is reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "empty").mkdir()
        os.environ["PPG_CACHE_DIR"] = str(root / "cache")  # the first start on a machine, then later ones
        cold = _ppg(root / "cold-home", "ingest", str(root / "empty"), "--json")
        starts = [
            _ppg(root / f"startup-{k}", "ingest", str(root / "empty"), "--json") for k in range(args.repeats)
        ]
        startup = starts[0]
        startup_s = float(np.median([s["wall"] for s in starts]))
        cases = [(f"one-{n}", [_batch(n, 5, f"n{n}")]) for n in args.sizes]
        small = [_batch(1000, 7 + i, f"s{i}") for i in range(args.small_files)]
        cases.append((f"{args.small_files}-files-of-1k", small))
        runs: dict[str, list[dict]] = {name: [] for name, _ in cases}
        for k in range(args.repeats):  # rounds, so that drift of the machine touches every case alike
            for name, files in cases:
                runs[name].append(_case(root / f"round-{k}", name, files, startup_s))
        rows = [_median_case(runs[name]) for name, _ in cases]
    lines = [
        "# Ingest end to end (`ppg ingest DIR --json`, fresh process, 2 cores; ICU red + IR, 125 Hz, 10 s)",
        "",
        f"Median of {args.repeats} runs per case, each in a fresh home; wall time's range in brackets.",
        "",
        f"Prefect start-up and shutdown (`ppg ingest` on an empty folder): {startup_s:.1f} s,"
        f" peak {startup['maxrss_kib'] / 1024:.0f} MB; the first start on a machine, which migrates"
        f" Prefect's database and keeps it as the template later starts copy: {cold['wall']:.1f} s.",
        "",
        "| case | windows | MB | outcomes | wall s | windows/s end to end | Prefect ready s | flow s"
        " | windows/s in the flow | peak memory MB |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        outcomes = ", ".join(f"{k} {v}" for k, v in r["outcomes"].items())
        lines.append(
            f"| {r['case']} | {r['windows']:,} | {r['file_mb']} | {outcomes} | {r['wall_s']}"
            f" [{r['wall_s_range'][0]:.1f}-{r['wall_s_range'][1]:.1f}]"
            f" | {r['windows_per_s_end_to_end']:,.0f} | {r['prefect_ready_s']} | {r['without_startup_s']}"
            f" | {r['windows_per_s_without_startup']:,.0f} | {r['peak_rss_mb']:,.0f} |"
        )
    lines += [
        "",
        "Targets: >= 10,000 windows/s end to end for batches of >= 10k windows; >= 5,000 for a run of"
        " 1k-window files; peak memory <= 1 GB. Peak memory is the largest resident set of the command's"
        " processes (the command itself or its Prefect server).",
    ]
    payload = {
        "repeats": args.repeats,
        "startup_s": round(startup_s, 2),
        "startup_runs_s": [round(s["wall"], 2) for s in starts],
        "first_startup_s": round(cold["wall"], 2),
        "cases": rows,
    }
    write_results("ingest", payload, "\n".join(lines))


if __name__ == "__main__":
    main()
