"""How `ppg demo` ends, over several simulation seeds: does the first model become champion and the second
get judged against it, as the README promises, and what do the blood-pressure bias gates read?

Run: .venv/bin/python benchmarks/demo_outcomes.py [--seeds 7 1 2 3] [--name NAME]
Writes benchmarks/results/NAME.json and .md (default name: demo_outcomes). For a before/after on one
machine, put a worktree of the earlier commit first on the path: ``PYTHONPATH=/tmp/before
.venv/bin/python benchmarks/demo_outcomes.py --name demo_outcomes-before`` (the demo's processes inherit
it; the JSON records it).

Each seed runs `ppg demo --json --seed S` (default windows and epochs) in a fresh PPG_HOME with a chosen
demo password. Per version it records the gate status, the SBP and DBP mean error on the pinned test set
with the number of test subjects that carry BP, and the version's test figures.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_io import write_results

PPG = Path(sys.executable).with_name("ppg")


def _bp_gates(verdict: dict) -> dict[str, dict]:
    """The verdict's SBP and DBP mean-error threshold lines (value, interval, subjects, outcome)."""
    return {
        line["task"]: {k: line[k] for k in ("value", "low", "high", "n_subjects", "outcome")}
        for line in verdict["lines"]
        if line["task"] in ("sbp", "dbp") and line["subgroup"] == "all" and line["metric"] == "mean_error"
    }


def run_seed(seed: int) -> dict:
    with tempfile.TemporaryDirectory() as home:
        env = os.environ | {"PPG_HOME": home, "PPG_DEMO_PASSWORD": "benchmark-demo-password"}
        t0 = time.perf_counter()
        done = subprocess.run(
            [str(PPG), "demo", "--json", "--seed", str(seed)], env=env, capture_output=True, text=True
        )
        seconds = time.perf_counter() - t0
    if done.returncode != 0:
        return {"seed": seed, "error": done.stderr[-2000:], "seconds": seconds}
    payload = json.loads(done.stdout)
    registry = payload["registry"]
    versions = []
    for version, status, verdict in zip(
        registry["versions"], registry["statuses"], registry["verdicts"], strict=True
    ):
        versions.append(
            {
                "version": version,
                "status": status,
                "bp_gates": _bp_gates(verdict),
                "test": registry["test"][version],
            }
        )
    champion = registry["statuses"][0] == "challenger"  # passed: the demo approver made it champion
    return {
        "seed": seed,
        "seconds": round(seconds, 1),
        "statuses": registry["statuses"],
        "first_became_champion": champion,
        "versions": versions,
    }


def markdown(name: str, code: str, rows: list[dict]) -> str:
    ended = sum(1 for r in rows if r.get("first_became_champion"))
    out = [
        f"# `ppg demo` outcomes ({name})",
        "",
        f"Code: `{code}`; `ppg demo --json --seed S`, default windows and epochs, a fresh PPG_HOME per seed.",
        f"The first model passed its gates (and so became champion) in **{ended} of {len(rows)}** seeds.",
        "",
        "| seed | statuses | v1 SBP mean error (mmHg) | v1 DBP mean error (mmHg) | seconds |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            out.append(f"| {r['seed']} | error | {r['error'][-200:]!r} | | {r['seconds']:.0f} |")
            continue
        first = r["versions"][0]
        cells = []
        for task in ("sbp", "dbp"):
            gate = first.get("bp_gates", {}).get(task)
            value = first["test"].get(task, {}).get("mean_error")
            if gate:
                cells.append(f"{gate['value']:+.1f} [{gate['low']:+.1f}, {gate['high']:+.1f}], "
                             f"{gate['n_subjects']} subj., {gate['outcome']}")  # fmt: skip
            else:  # results of the script's first version (demo_outcomes-before.json) hold no gate lines
                cells.append("-" if value is None else f"{value:+.1f}")
        out.append(f"| {r['seed']} | {', '.join(r['statuses'])} | {cells[0]} | {cells[1]} | {r['seconds']} |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 1, 2, 3])
    parser.add_argument("--name", default="demo_outcomes")
    args = parser.parse_args()
    rows = []
    for seed in args.seeds:
        rows.append(run_seed(seed))
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "versions"}), flush=True)
    code = os.environ.get("PYTHONPATH") or str(Path(__file__).resolve().parents[1])
    write_results(args.name, {"code": code, "seeds": rows}, markdown(args.name, code, rows))


if __name__ == "__main__":
    main()
