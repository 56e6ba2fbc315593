"""The noise-floor quality check (`pulse_snr_db`): what it reads on pulses and on windows with none.

Run: .venv/bin/python benchmarks/noise_floor.py [--windows 400]
Writes benchmarks/results/noise_floor.json and .md.

Pulses: simulated windows of every source (seed 2026, three batches each), per channel and motion
level: percentiles of `pulse_snr_db`, the share under the default limit, and the share of windows that
the limit drops which no other default quality limit drops (what the check costs ingest). No pulse:
white noise, a flat level with converter noise (+-1 count), a random walk and 1/f-like noise at 100, 125
and 250 Hz. Evidence is counted in windows: the check is a property of each window.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_io import write_results

from ppg_models.data.arrays import to_matrix
from ppg_models.data.quality import quality_features
from ppg_models.ingest.policy import DEFAULT_QUALITY
from ppg_models.sim.simulate import simulate_batch
from ppg_models.tasks import CHANNELS

SEED = 2026
LIMIT = DEFAULT_QUALITY["pulse_snr_db"].min
PERCENTILES = (0.1, 1, 5, 50)


def _summary(values: np.ndarray, others_fail: np.ndarray | None = None) -> dict:
    values = values[np.isfinite(values)]
    out = {
        "n": int(values.size),
        **{f"p{p:g}": round(float(np.percentile(values, p)), 2) for p in PERCENTILES},
        "max": round(float(values.max()), 2),
        "share_below_limit": float((values < LIMIT).mean()),
    }
    if others_fail is not None:
        out["share_dropped_by_this_check_alone"] = float(others_fail.mean())
    return out


def _fails_other_limits(features: dict[str, np.ndarray]) -> np.ndarray:
    fail = np.zeros(features["pulse_snr_db"].shape, bool)
    for name, limit in DEFAULT_QUALITY.items():
        if name == "pulse_snr_db":
            continue
        v = features[name]
        fail |= (v < limit.min) if limit.min is not None else False
        fail |= (v > limit.max) if limit.max is not None else False
    return fail


def pulses(windows: int) -> dict:
    out = {}
    for source in ("icu", "wearable", "sleep-lab"):
        table = pa.concat_tables([simulate_batch(source, SEED, b, windows) for b in range(3)])
        fs = float(table.column("fs").to_numpy()[0])
        motion = np.asarray(table.column("motion").to_pylist())
        for channel in CHANNELS:
            column = table.column(channel).combine_chunks()
            if column.null_count == len(column):
                continue
            features = quality_features(to_matrix(column).astype(np.float64), fs)
            snr = features["pulse_snr_db"]
            alone = (snr < LIMIT) & ~_fails_other_limits(features)
            out[f"{source} {channel}"] = {
                "fs": fs,
                "all": _summary(snr, alone),
                **{m: _summary(snr[motion == m]) for m in ("none", "low", "high") if (motion == m).any()},
            }
    return out


def no_pulse(windows: int) -> dict:
    rng = np.random.default_rng(SEED)
    out = {}
    for fs in (100.0, 125.0, 250.0):
        n = int(10 * fs)
        white = rng.standard_normal((windows, n))
        walk = np.cumsum(rng.standard_normal((windows, n)), axis=1)
        cases = {
            "white noise": white,
            "flat level, converter noise": np.round(30000 + 0.7 * white),
            "random walk": walk,
            "1/f-like": walk - np.cumsum(walk, axis=1) / 50,
        }
        for name, x in cases.items():
            out[f"{name} at {fs:g} Hz"] = _summary(quality_features(x, fs)["pulse_snr_db"])
    return out


def markdown(payload: dict) -> str:
    lines = [
        f"# Noise floor: `pulse_snr_db` on pulses and on windows without one (limit {LIMIT:g} dB)",
        "",
        f"Simulated windows: seed {SEED}, 3 batches of {payload['windows']} per source. Percentiles in dB.",
        "",
        "| windows | n | p0.1 | p1 | p5 | p50 | under the limit | dropped by this check alone |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in payload["pulses"].items():
        a = row["all"]
        lines.append(
            f"| {name} ({row['fs']:g} Hz) | {a['n']} | {a['p0.1']} | {a['p1']} | {a['p5']} | {a['p50']} |"
            f" {a['share_below_limit']:.2%} | {a['share_dropped_by_this_check_alone']:.2%} |"
        )
    lines += ["", "By motion level (p1 / p50 dB):", ""]
    for name, row in payload["pulses"].items():
        parts = [f"{m} {row[m]['p1']} / {row[m]['p50']}" for m in ("none", "low", "high") if m in row]
        lines.append(f"- {name}: " + "; ".join(parts))
    lines += ["", "| no pulse | n | p50 | max | under the limit |", "|---|---:|---:|---:|---:|"]
    for name, s in payload["no_pulse"].items():
        lines.append(f"| {name} | {s['n']} | {s['p50']} | {s['max']} | {s['share_below_limit']:.0%} |")
    lines += [
        "",
        "White noise and converter noise are refused; smooth noise (random walk, 1/f) puts its power below"
        " 8 Hz as a pulse does and is not: the check says a pulse can be there, not that it is.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=400, help="windows per simulated batch")
    args = parser.parse_args()
    payload = {"limit_db": LIMIT, "windows": args.windows, "pulses": pulses(args.windows),
               "no_pulse": no_pulse(200)}  # fmt: skip
    write_results("noise_floor", payload, markdown(payload))


if __name__ == "__main__":
    main()
