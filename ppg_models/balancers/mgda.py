"""MGDA-UB: Sener & Koltun, "Multi-task learning as multi-objective optimization", NeurIPS 2018.

The minimum-norm point in the convex hull of the task gradients (found by Frank-Wolfe) is a common
descent direction. The "upper bound" variant takes gradients with respect to the shared representation
(the backbones' outputs) instead of the shared parameters: one cheap backward through the heads per
task, then a single full backward of the weighted loss.
"""

from __future__ import annotations

import torch

from ppg_models.balancers.base import BALANCERS, Balancer, Step, weighted_backward


def min_norm_weights(grads: torch.Tensor, iterations: int = 50) -> torch.Tensor:
    """Weights on the simplex minimising |sum_t w_t g_t| (Frank-Wolfe on the Gram matrix)."""
    gram = grads @ grads.T
    n = gram.shape[0]
    w = torch.full((n,), 1.0 / n, dtype=gram.dtype)
    for _ in range(iterations):
        t = int(torch.argmin(gram @ w))
        e = torch.zeros_like(w)
        e[t] = 1.0
        a, b, c = w @ gram @ w, w @ gram @ e, e @ gram @ e
        denom = a - 2 * b + c
        gamma = float(((a - b) / denom).clamp(0, 1)) if denom > 1e-20 else 0.0
        if gamma < 1e-6:
            break
        w = (1 - gamma) * w + gamma * e
    return w


@BALANCERS.register("mgda")
class MGDAUB(Balancer):
    """Sener & Koltun, NeurIPS 2018: min-norm combination of representation gradients (MGDA-UB)."""

    paper = "Sener & Koltun, NeurIPS 2018 (MGDA-UB)"
    backward_passes = "T (heads only) + 1"

    def backward(self, step: Step) -> dict[str, float]:
        tasks = list(step.losses)
        reps = list({id(r): r for t, r in step.representations.items() if t in step.losses}.values())
        if len(tasks) == 1 or not reps:
            used = dict.fromkeys(tasks, 1.0)
        else:
            rows = []
            for t in tasks:
                grads = torch.autograd.grad(step.losses[t], reps, retain_graph=True, allow_unused=True)
                rows.append(
                    torch.cat(
                        [
                            (g if g is not None else torch.zeros_like(r)).reshape(-1)
                            for g, r in zip(grads, reps, strict=True)
                        ]
                    )
                )
            w = min_norm_weights(torch.stack(rows).detach().double())
            used = {t: float(w[i]) * len(tasks) for i, t in enumerate(tasks)}  # mean weight 1
        weighted_backward(step.losses, used)
        return self.all_weights(used)
