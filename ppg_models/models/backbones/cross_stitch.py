"""Cross-stitch networks (Misra et al., CVPR 2016): soft parameter sharing.

Each task has its own (narrower) ResNet column; after every block, a learned matrix mixes the columns'
activations channel-wise, so tasks decide how much to share at each depth.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ppg_models.models.backbones.base import BACKBONES, Backbone, Width, Widths, residual_stack, stem


@BACKBONES.register("cross_stitch")
class CrossStitch(Backbone):
    def __init__(
        self,
        in_channels: int,
        tasks: Sequence[str],
        widths: Widths = (32, 40, 48, 64),
        kernel: Width = 5,
        stem_width: Width = 16,
        self_weight: float = 0.9,
    ) -> None:
        super().__init__(in_channels, tasks)
        t = len(self.tasks)
        self.stems = nn.ModuleList(stem(in_channels, stem_width) for _ in range(t))
        self.columns = nn.ModuleList(residual_stack(stem_width, widths, kernel) for _ in range(t))
        off = (1 - self_weight) / max(1, t - 1)
        init = torch.full((t, t), off) + torch.eye(t) * (self_weight - off) if t > 1 else torch.ones(1, 1)
        # one mixing matrix per block and channel: alpha[b][c, i, j] = how much task i reads from task j
        self.alphas = nn.ParameterList(nn.Parameter(init.repeat(w, 1, 1)) for w in widths)
        self.out_channels = widths[-1]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        hs = [s(x) for s in self.stems]
        for b, alpha in enumerate(self.alphas):
            hs = [col[b](h) for col, h in zip(self.columns, hs, strict=True)]
            stacked = torch.stack(hs, dim=1)  # (batch, tasks, channels, steps)
            mixed = torch.einsum("cij,bjcs->bics", alpha, stacked)
            hs = list(mixed.unbind(dim=1))
        return dict(zip(self.tasks, hs, strict=True))
