"""Mixture of low-rank experts with per-task routers, in the spirit of PhysMLE (Wang et al., 2024).

A shared ResNet base (trained, or frozen with ``freeze_base``) computes the early blocks once. The last
``expert_blocks`` blocks run once per task: the shared block's output plus a mixture of LoRA experts
(1x1 down-projection to ``rank`` channels and back up, the up-projection starting at zero), mixed by a
task's router element-wise: every channel has its own softmax over experts.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ppg_models.models.backbones.base import BACKBONES, Backbone, Width, Widths, residual_stack, stem


class LoRAExpert(nn.Module):
    def __init__(self, channels: int, rank: int) -> None:
        super().__init__()
        self.down = nn.Conv1d(channels, rank, 1, bias=False)
        self.up = nn.Conv1d(rank, channels, 1, bias=False)
        nn.init.zeros_(self.up.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.down(x))


class ExpertLayer(nn.Module):
    """K experts on a block's output and one router per task producing (K, channels) gates."""

    def __init__(self, channels: int, tasks: Sequence[str], experts: int, rank: int) -> None:
        super().__init__()
        self.experts = nn.ModuleList(LoRAExpert(channels, rank) for _ in range(experts))
        self.routers = nn.ModuleDict(
            {
                t: nn.Sequential(nn.Linear(channels, 16), nn.GELU(), nn.Linear(16, experts * channels))
                for t in tasks
            }
        )
        self.k, self.c = experts, channels

    def forward(self, h: torch.Tensor, task: str) -> torch.Tensor:
        gates = self.routers[task](h.mean(dim=2)).view(-1, self.k, self.c).softmax(dim=1)  # (batch, K, C)
        outs = torch.stack([e(h) for e in self.experts], dim=1)  # (batch, K, C, steps)
        return h + (gates.unsqueeze(-1) * outs).sum(dim=1)


@BACKBONES.register("lora_experts")
class LoRAExperts(Backbone):
    def __init__(
        self,
        in_channels: int,
        tasks: Sequence[str],
        widths: Widths = (64, 80, 96, 128),
        kernel: Width = 3,
        stem_width: Width = 32,
        experts: Width = 4,
        rank: Width = 8,
        expert_blocks: int = 2,
        freeze_base: bool = False,
    ) -> None:
        super().__init__(in_channels, tasks)
        if not 1 <= expert_blocks <= len(widths):
            raise ValueError(f"expert_blocks must be in 1..{len(widths)}, got {expert_blocks}")
        self.stem = stem(in_channels, stem_width)
        self.blocks = residual_stack(stem_width, widths, kernel)
        self.first_expert = len(widths) - expert_blocks
        self.expert_layers = nn.ModuleList(
            ExpertLayer(w, self.tasks, experts, rank) for w in widths[self.first_expert :]
        )
        if freeze_base:
            for p in [*self.stem.parameters(), *self.blocks.parameters()]:
                p.requires_grad_(False)
        self.out_channels = widths[-1]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.stem(x)
        for block in self.blocks[: self.first_expert]:
            h = block(h)
        out = {}
        for task in self.tasks:
            ht = h
            for block, layer in zip(self.blocks[self.first_expert :], self.expert_layers, strict=True):
                ht = layer(block(ht), task)
            out[task] = ht
        return out
