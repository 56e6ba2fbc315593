"""GradNorm: Chen et al., "GradNorm: Gradient normalization for adaptive loss balancing in deep
multitask networks", ICML 2018. Learnable weights are moved so that each task's weighted gradient norm
on the last shared layer tracks the mean norm scaled by the task's relative inverse training rate
(L_t / L_t(0)) ** alpha. With several task groups, each task's norm is taken on its own group's last
shared layer; the weights are still balanced across all tasks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import torch
from pydantic import Field

from ppg_models.balancers.base import BALANCERS, Balancer, Step, weighted_backward


@BALANCERS.register("gradnorm")
class GradNorm(Balancer):
    """Chen et al., ICML 2018: weights that equalise gradient norms, scaled by relative training rates."""

    paper = "Chen et al., ICML 2018"
    backward_passes = "T (last shared layer only) + 1"

    def __init__(
        self,
        tasks: Sequence[str],
        alpha: Annotated[float, Field(ge=0)] = 1.5,
        lr: Annotated[float, Field(gt=0)] = 0.025,
    ) -> None:
        super().__init__(tasks)
        self.alpha, self.lr = alpha, lr
        self.weights = dict.fromkeys(tasks, 1.0)
        self.initial: dict[str, float] = {}  # first loss seen per task: tasks may appear late
        self._layers: dict[frozenset[str], dict[str, int]] = {}

    def _norm_layers(self, step: Step) -> dict[str, torch.nn.Parameter]:
        """Per present task, the weight its gradient norm is measured on: the last shared weight that
        every task sharing parameters with it reaches. Under one hard-shared backbone that is the
        backbone's last layer for all tasks; with several groups, each group's own last layer; under
        soft sharing, the last layer all the group's columns or routers reach."""
        key = frozenset(step.losses)
        if key not in self._layers:
            reach = {
                t: {
                    i
                    for i, g in enumerate(
                        torch.autograd.grad(loss, step.shared, retain_graph=True, allow_unused=True)
                    )
                    if g is not None
                }
                for t, loss in step.losses.items()
            }
            layers: dict[str, int] = {}
            for t in step.losses:
                peers = [u for u in step.losses if reach[u] & reach[t]]
                common = set.intersection(*(reach[u] for u in peers))
                candidates = [i for i in common if step.shared[i].dim() >= 2]
                if not candidates:
                    raise RuntimeError(f"no shared weight is reached by task {t!r} and its group")
                layers[t] = max(candidates)
            self._layers[key] = layers
        return {t: step.shared[i] for t, i in self._layers[key].items()}

    def backward(self, step: Step) -> dict[str, float]:
        present = list(step.losses)
        layers = self._norm_layers(step)
        norms = {}
        for t in present:
            (g,) = torch.autograd.grad(step.losses[t], layers[t], retain_graph=True)
            norms[t] = float(g.norm())
            self.initial.setdefault(t, max(float(step.losses[t].detach()), 1e-8))
        if len(present) > 1:
            ratio = {t: float(step.losses[t].detach()) / self.initial[t] for t in present}
            mean_ratio = sum(ratio.values()) / len(present)
            weighted = {t: self.weights[t] * norms[t] for t in present}
            mean_norm = sum(weighted.values()) / len(present)
            for t in present:  # d/dw_t of |w_t n_t - target_t| is sign(.) n_t
                target = mean_norm * (ratio[t] / mean_ratio) ** self.alpha
                sign = 1.0 if weighted[t] > target else -1.0
                self.weights[t] = max(self.weights[t] - self.lr * sign * norms[t], 1e-3)
            scale = len(present) / sum(self.weights[t] for t in present)  # present weights sum to their count
            for t in present:
                self.weights[t] *= scale
        used = {t: self.weights[t] for t in present}
        weighted_backward(step.losses, used)
        return self.all_weights(used)

    def state_dict(self) -> dict[str, Any]:
        return {"weights": dict(self.weights), "initial": dict(self.initial)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.weights, self.initial = dict(state["weights"]), dict(state["initial"])
