"""Two per-run costs of ingest that grew with the lake's history, before and after their fix.

1. The near-duplicate lookup (``LakeIndex.same_moment``): the (subject, start time) pairs of a new
   1,000-window file looked up in lake indexes of 10k to 1M accepted windows, with the lookup the lake
   uses and with the query it replaced (``(subject_id, recorded_ms) IN (VALUES ...)``, kept here only to
   measure it), which SQLite answered by scanning the whole table.
2. Data Docs after a run that validated one file: rendering that run's result and the index (what
   the flow does) against rebuilding every stored result (what it did), with 1 to 120 stored results.

Run: .venv/bin/python benchmarks/lake_growth.py [--windows 10000 100000 1000000] [--results 1 40 120]
Writes benchmarks/results/lake_growth.json and .md. Target: flat in the lake's size.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_io import write_results

PAIRS = 1000  # one 1,000-window file
SUBJECTS = 500
CHUNK = 250  # pairs per query, as the lake sends them


def _index(path: Path, windows: int) -> None:
    from ppg_models.lake.index import SCHEMA

    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    rows = ((f"w{i}", "b", f"s{i % SUBJECTS}", 1_700_000_000_000 + i * 10_000) for i in range(windows))
    with conn:
        conn.executemany("INSERT INTO windows VALUES (?, ?, ?, ?)", rows)
    conn.close()


def _former(path: Path, pairs: list[tuple[str, int]]) -> int:
    conn = sqlite3.connect(path)
    found = 0
    for start in range(0, len(pairs), CHUNK):
        chunk = pairs[start : start + CHUNK]
        values = ",".join("(?, ?)" for _ in chunk)
        query = (
            "SELECT subject_id, recorded_ms, window_id, batch_id FROM windows"
            f" WHERE (subject_id, recorded_ms) IN (VALUES {values})"
        )
        found += len(conn.execute(query, [v for p in chunk for v in p]).fetchall())
    conn.close()
    return found


def _timed(fn, repeat: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def lookups(sizes: list[int], root: Path) -> list[dict]:
    from ppg_models.lake.index import LakeIndex

    rows = []
    for n in sizes:
        path = root / f"index-{n}.sqlite"
        _index(path, n)
        every = max(1, n // PAIRS)  # half the pairs are in the lake, half are new
        pairs = [
            (f"s{i % SUBJECTS}", 1_700_000_000_000 + i * 10_000 + (k % 2))
            for k, i in enumerate(range(0, n, every))
        ][:PAIRS]
        now, found = _timed(lambda p=path, q=pairs: LakeIndex(p).same_moment(q))
        before, found_before = _timed(lambda p=path, q=pairs: _former(p, q), repeat=1)
        assert len(found) == found_before, "the two queries find the same windows"
        rows.append({"windows": n, "lookup_s": now, "former_query_s": before, "found": len(found)})
        print(f"  {n:>9,} windows: {now * 1000:8.1f} ms (former {before * 1000:8.1f} ms)", file=sys.stderr)
    return rows


def docs(counts: list[int], root: Path) -> list[dict]:
    from flows.ingest.gx_validator import GxValidator
    from ppg_models.ingest.policy import IngestPolicy
    from ppg_models.ingest.window_frame import window_frame
    from ppg_models.sim.simulate import simulate_batch

    policy = IngestPolicy()
    frame = window_frame(simulate_batch("icu", 3, 0, 50), sorted(policy.sampling_rates))
    claimed = list(policy.sources["icu"])
    gx_root, stored, rows = root / "gx", 0, []
    GxValidator(gx_root, policy).build_docs()
    for n in sorted(counts):
        while stored < n - 1:  # earlier runs, rendered when they ran
            earlier = GxValidator(gx_root, policy)
            earlier(frame, claimed, f"earlier-{stored}")
            stored += 1
        run = GxValidator(gx_root, policy)  # this run validates one file
        run(frame, claimed, f"run-{n}")
        stored += 1
        t0 = time.perf_counter()
        run.build_docs()
        now = time.perf_counter() - t0
        t0 = time.perf_counter()
        with run._lock():
            run.context.build_data_docs()
        full = time.perf_counter() - t0
        rows.append({"stored_results": stored, "run_docs_s": now, "full_rebuild_s": full})
        print(f"  {stored:>4} stored results: {now:6.2f} s (full rebuild {full:6.2f} s)", file=sys.stderr)
    return rows


def markdown(payload: dict) -> str:
    lines = [
        "# Ingest costs that grew with the lake (2 cores)",
        "",
        f"Near-duplicate lookup of one {PAIRS:,}-window file (median of 3):",
        "",
        "| windows in the lake | lookup s | former query s |",
        "|---:|---:|---:|",
    ]
    lines += [
        f"| {r['windows']:,} | {r['lookup_s']:.4f} | {r['former_query_s']:.3f} |" for r in payload["lookups"]
    ]
    lines += [
        "",
        "Data Docs after a run that validated one file:",
        "",
        "| stored validation results | this run and the index s | full rebuild s |",
        "|---:|---:|---:|",
    ]
    lines += [
        f"| {r['stored_results']} | {r['run_docs_s']:.2f} | {r['full_rebuild_s']:.2f} |"
        for r in payload["docs"]
    ]
    lines += [
        "",
        "The index page still lists every stored result, so the run's Data Docs still grow with the"
        " lake, far more slowly than a full rebuild.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--windows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--results", type=int, nargs="+", default=[1, 40, 120])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ppg-lake-growth-") as tmp:
        payload = {"lookups": lookups(args.windows, Path(tmp)), "docs": docs(args.results, Path(tmp))}
    write_results("lake_growth", payload, markdown(payload))


if __name__ == "__main__":
    main()
