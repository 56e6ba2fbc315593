"""Where the HR error of a single-channel export comes from: the HR head's spectra, or the backbone.

Run: .venv/bin/python benchmarks/single_channel.py [--seeds N] [--export only_ir]
Writes benchmarks/results/single_channel.json and .md.

The robustness benchmark's model (same data, training and seeds; ``robustness.train_model``) is scored
on the untouched test windows and on the export (default IR only), and twice more with the two halves
of the HR path fed different inputs: the shared backbone's features (which condition the head's
scoring, FiLM) from one, the head's own per-channel spectra and counted beat rate from the other. The
difference between the mixed runs and the untransformed one says how much of the export's HR error
comes from the evidence the head loses (a channel's spectrum) and how much from the backbone's
features moving when a channel is absent (a training-distribution gap, which training can close).
Evidence: held-out windows and subjects; mean ± SD over seeds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_io import write_results
from robustness import MODES, _tables, train_model

from ppg_models.data.exports import EXPORTS, apply_export
from ppg_models.models.inputs import prepare_inputs

CASES = {  # (backbone input, head input)
    "untransformed": ("none", "none"),
    "head sees the export": ("none", "export"),
    "backbone sees the export": ("export", "none"),
    "both see the export": ("export", "export"),
}


@torch.no_grad()
def hr_estimates(model, features_x: torch.Tensor, head_x: torch.Tensor) -> np.ndarray:
    """HR in bpm with the backbone run on ``features_x`` and the HR head reading ``head_x``."""
    model.eval()
    key, column = model._head_of["hr"]
    head = model.heads[key]
    out = []
    for start in range(0, len(features_x), 256):
        _, features = model.forward_with_features(features_x[start : start + 256])
        raw = head(features["hr"], head_x[start : start + 256])[:, column]
        out.append(model.to_units("hr", raw).float().numpy())
    return np.concatenate(out)


def one_seed(seed: int, export: str, test, labels: np.ndarray) -> dict[str, float]:
    model, *_ = train_model(MODES["full"], MODES["full"]["epochs"], 0.4, seed)
    inputs = {
        "none": torch.from_numpy(prepare_inputs(test).x),
        "export": torch.from_numpy(prepare_inputs(apply_export(test, export, seed=5)).x),
    }
    ok = np.isfinite(labels)
    out = {}
    for case, (backbone, head) in CASES.items():
        estimates = hr_estimates(model, inputs[backbone], inputs[head])
        out[case] = float(np.abs(estimates - labels)[ok].mean())
    print(f"seed {seed}: " + ", ".join(f"{k} {v:.2f}" for k, v in out.items()), file=sys.stderr)
    return out


def markdown(payload: dict) -> str:
    rows = [
        f"# HR under `{payload['export']}`: lost evidence or moved features",
        "",
        f"The robustness benchmark's model (full mode), {len(payload['seeds'])} seeds, mean ± SD; HR MAE"
        f" (bpm) on {payload['test_windows']} held-out windows of {payload['test_subjects']} subjects."
        " The head reads per-channel spectra and the counted beat rate; the backbone's features"
        " condition its scoring.",
        "",
        "| backbone sees | head sees | HR MAE | change |",
        "|---|---|---:|---:|",
    ]
    base = payload["summary"]["untransformed"]["mean"]
    for case, (backbone, head) in CASES.items():
        s = payload["summary"][case]
        change = 100 * (s["mean"] / base - 1)
        rows.append(f"| {backbone} | {head} | {s['mean']:.2f} ± {s['sd']:.2f} | {change:+.0f}% |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--export", default="only_ir", choices=[e for e in EXPORTS if e.startswith("only_")])
    args = parser.parse_args()
    torch.set_num_threads(1)
    test = _tables(9090, MODES["full"]["test_windows"])
    labels = test.column("hr").to_numpy(zero_copy_only=False).astype(float)
    if args.export == "only_green":  # only the wearable's windows carry green
        keep = np.asarray(test.column("source").to_pylist()) == "wearable"
        test, labels = test.filter(keep), labels[keep]
    per_seed = [one_seed(s, args.export, test, labels) for s in range(args.seeds)]
    summary = {
        case: {
            "mean": float(np.mean([p[case] for p in per_seed])),
            "sd": float(np.std([p[case] for p in per_seed], ddof=1)) if len(per_seed) > 1 else 0.0,
        }
        for case in CASES
    }
    payload = {
        "export": args.export,
        "seeds": list(range(args.seeds)),
        "test_windows": test.num_rows,
        "test_subjects": len(set(test.column("subject_id").to_pylist())),
        "summary": summary,
        "per_seed": per_seed,
    }
    write_results("single_channel", payload, markdown(payload))


if __name__ == "__main__":
    main()
