"""1D ResNet with hard parameter sharing: every task in the group reads the same features."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ppg_models.models.backbones.base import BACKBONES, Backbone, Width, Widths, residual_stack, stem


@BACKBONES.register("resnet1d")
class ResNet1D(Backbone):
    """Stem + 4 residual blocks (64-128 channels, stride 2 each): ~0.22 M parameters; 10 s at 125 Hz
    becomes 40 steps of 0.256 s."""

    def __init__(
        self,
        in_channels: int,
        tasks: Sequence[str],
        widths: Widths = (64, 80, 96, 128),
        kernel: Width = 3,
        stem_width: Width = 32,
    ) -> None:
        super().__init__(in_channels, tasks)
        self.stem = stem(in_channels, stem_width)
        self.blocks = residual_stack(stem_width, widths, kernel)
        self.out_channels = widths[-1]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.stem(x)
        for block in self.blocks:
            h = block(h)
        return dict.fromkeys(self.tasks, h)
