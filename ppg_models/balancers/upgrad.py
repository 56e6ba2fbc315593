"""UPGrad: Quinton & Rey, "Jacobian descent for multi-objective optimization", 2024 (arXiv 2406.16232).

Each task's gradient on the shared parameters is projected onto the dual cone of all of them (the
directions that conflict with no task), and the projections are averaged: the update never increases
any task's loss to first order, and its size follows the gradients (unlike MGDA, which shrinks it).
Computed by torchjd's ``UPGradWeighting`` on the Gramian of the task gradients, the library's own
implementation rather than a rewrite.
"""

from __future__ import annotations

from collections.abc import Sequence

from ppg_models.balancers.base import BALANCERS, Balancer, Step, gramian_backward


@BALANCERS.register("upgrad")
class UPGrad(Balancer):
    """Quinton & Rey, 2024: the mean of the task gradients projected onto their dual cone (torchjd)."""

    paper = "Quinton & Rey, Jacobian descent for multi-objective optimization, 2024"
    backward_passes = "T + 1"

    def __init__(self, tasks: Sequence[str]) -> None:
        super().__init__(tasks)
        from torchjd.aggregation import UPGradWeighting  # on use: torchjd's import loads cvxpy (0.5 s)

        self.weighting = UPGradWeighting()

    def backward(self, step: Step) -> dict[str, float]:
        return self.all_weights(gramian_backward(step, self.weighting))
