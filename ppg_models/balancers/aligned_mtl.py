"""Aligned-MTL: Senushkin et al., "Independent component alignment for multi-task learning", CVPR 2023.

The task gradients on the shared parameters are made orthogonal and of equal size (the condition
number of their Gramian becomes 1) by a balance transformation from its eigen-decomposition, scaled by
the smallest eigenvalue (``scale_mode`` "min", the paper's choice), so that no task dominates and none
conflicts. Computed by torchjd's ``AlignedMTLWeighting``, the library's own implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from ppg_models.balancers.base import BALANCERS, Balancer, Step, gramian_backward


@BALANCERS.register("aligned_mtl")
class AlignedMTL(Balancer):
    """Senushkin et al., CVPR 2023: gradients aligned by a balance transformation (torchjd)."""

    paper = "Senushkin et al., CVPR 2023"
    backward_passes = "T + 1"

    def __init__(self, tasks: Sequence[str], scale_mode: Literal["min", "median", "rmse"] = "min") -> None:
        super().__init__(tasks)
        from torchjd.aggregation import AlignedMTLWeighting  # on use: torchjd's import loads cvxpy (0.5 s)

        self.weighting = AlignedMTLWeighting(scale_mode=scale_mode)

    def backward(self, step: Step) -> dict[str, float]:
        return self.all_weights(gramian_backward(step, self.weighting))
