"""Where the multi-task model's CPU inference time goes, and why two thread counts train apart.

Run: .venv/bin/python benchmarks/mtl_costs.py
Writes benchmarks/results/mtl_costs.json and .md. Untrained models of the benchmark's architectures
(timing and reduction order do not depend on the weights); three timing rounds, the median
shown; about two minutes on 2 cores.

1. Inference: the forward time of the all-shared model's backbone and of each head over 256 windows with
   2 threads (median of 9); the whole model's and the six single-task models' times as
   ``benchmarks/mtl.py`` measures them (``inference_ms_per_window``), and the ratio it checks (all tasks
   / mean single-task model; target 1.3). From these, the head time the target
   leaves with this backbone.
2. Threads: one training step (forward and backward, 64 windows, fixed seed) with 1 and with 2 threads;
   whether the outputs are bitwise equal and how many gradient tensors differ, with PyTorch's defaults,
   with ``torch.use_deterministic_algorithms(True)`` and with oneDNN (mkldnn) off.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mtl import inference_ms_per_window
from results_io import write_results

from ppg_models.models.multitask import MultiTaskModel
from ppg_models.models.spec import ModelSpec
from ppg_models.tasks import TASK_NAMES

TARGET = 1.3
ROUNDS = 3  # this 2-core machine's timings vary by the minute: the median round is shown


def _ms(fn, repeats: int = 9) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))


def inference() -> dict:
    torch.set_num_threads(2)
    torch.manual_seed(0)
    shared = MultiTaskModel(ModelSpec(groups=[list(TASK_NAMES)])).eval()
    x = torch.randn(256, len(shared.spec.input_channels), shared.spec.samples)
    with torch.no_grad():
        features = shared.backbones[0](x)[TASK_NAMES[0]]
        parts = {"backbone": _ms(lambda: shared.backbones[0](x))}
        parts |= {key: _ms(lambda h=head: h(features, x)) for key, head in shared.heads.items()}
    # the whole models exactly as benchmarks/mtl.py times them for its target (per window, x 256)
    whole = 256 * inference_ms_per_window({})
    singles = {t: 256 * inference_ms_per_window({"tasks": [t]}) for t in TASK_NAMES}
    heads = sum(v for k, v in parts.items() if k != "backbone")
    mean_single = float(np.mean(list(singles.values())))
    # (B + H) / (B + H / n) <= TARGET, n tasks, B the backbone: the heads' budget with this backbone
    n, b = len(TASK_NAMES), parts["backbone"]
    budget = b * (TARGET - 1) / (1 - TARGET / n)
    return {
        "ms_per_256_windows": parts,
        "all_tasks_ms": whole,
        "heads_ms": heads,
        "single_task_ms": singles,
        "ratio_vs_mean_single": whole / mean_single,
        "heads_budget_ms_for_target": budget,
    }


def _step(threads: int) -> tuple[dict, dict]:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = MultiTaskModel(ModelSpec(groups=[list(TASK_NAMES)])).train()
    x = torch.randn(64, len(model.spec.input_channels), model.spec.samples)
    out = model(x)
    sum(v.square().mean() for v in out.values()).backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return {k: v.detach().clone() for k, v in out.items()}, grads


def threads(setting: str) -> dict:
    torch.use_deterministic_algorithms(setting == "deterministic algorithms")
    torch.backends.mkldnn.enabled = setting != "mkldnn off"
    try:
        (o1, g1), (o2, g2) = _step(1), _step(2)
    finally:
        torch.use_deterministic_algorithms(False)
        torch.backends.mkldnn.enabled = True
    differ = [n for n in g1 if not torch.equal(g1[n], g2[n])]
    return {
        "setting": setting,
        "outputs_bitwise_equal": all(torch.equal(o1[k], o2[k]) for k in o1),
        "gradient_tensors": len(g1),
        "gradient_tensors_differing": len(differ),
        "largest_gradient_difference": max((float((g1[n] - g2[n]).abs().max()) for n in differ), default=0.0),
        "first_differing": differ[:3],
    }


def markdown(inf: dict, thr: list[dict]) -> str:
    parts = " | ".join(f"{k} {v:.1f}" for k, v in inf["ms_per_256_windows"].items())
    singles = ", ".join(f"{k} {v:.0f}" for k, v in inf["single_task_ms"].items())
    lines = [
        "# Multi-task model: CPU inference costs and thread-count reproducibility",
        "",
        "## Inference (256 windows, 2 threads, ms; parts median of 9, whole models as mtl.py times them)",
        "",
        f"- parts of the all-shared model: {parts}",
        f"- all tasks {inf['all_tasks_ms']:.0f} ms; single-task models: {singles}",
        f"- ratio to the mean single-task model: **{inf['ratio_vs_mean_single']:.2f}** (target {TARGET})",
        f"- heads together {inf['heads_ms']:.0f} ms; with this backbone the target leaves them "
        f"{inf['heads_budget_ms_for_target']:.0f} ms",
        "",
        "## One training step with 1 and with 2 threads",
        "",
        "| setting | outputs bitwise equal | gradient tensors differing | largest difference |",
        "|---|---|---|---|",
    ]
    for t in thr:
        lines.append(
            f"| {t['setting']} | {t['outputs_bitwise_equal']} | {t['gradient_tensors_differing']} of "
            f"{t['gradient_tensors']} | {t['largest_gradient_difference']:.2e} |"
        )
    return "\n".join(lines)


def main() -> None:
    rounds = sorted((inference() for _ in range(ROUNDS)), key=lambda r: r["ratio_vs_mean_single"])
    thr = [threads(s) for s in ("defaults", "deterministic algorithms", "mkldnn off")]
    inf = rounds[len(rounds) // 2]  # the median round by ratio
    payload = {"inference": inf, "inference_rounds": rounds, "threads": thr}
    ratios = ", ".join(f"{r['ratio_vs_mean_single']:.2f}" for r in rounds)
    text = markdown(inf, thr) + f"\n\nRatio in each of {ROUNDS} rounds: {ratios}."
    write_results("mtl_costs", payload, text)


if __name__ == "__main__":
    main()
