"""Backbone base class and registry. A backbone serves one group of tasks and returns one feature map
per task: the same tensor for every task under hard sharing, task-specific ones under soft sharing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import torch
from pydantic import Field
from torch import nn

from ppg_models.registry_by_name import NamedRegistry

#: Typed constructor parameters: configurations are checked against them when loaded (a width of 0 or
#: an empty list of stages is refused by name, not found when the model is built).
Width = Annotated[int, Field(ge=1)]
Widths = Annotated[Sequence[Width], Field(min_length=1)]


class Backbone(nn.Module):
    name: str = ""
    out_channels: int

    def __init__(self, in_channels: int, tasks: Sequence[str]) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.tasks = tuple(tasks)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(batch, in_channels, samples) -> {task: (batch, out_channels, steps)}."""
        raise NotImplementedError


BACKBONES: NamedRegistry[Backbone] = NamedRegistry("backbone", fixed_args=2)  # (in_channels, tasks, ...)


def create_backbone(name: str, in_channels: int, tasks: Sequence[str], **params: object) -> Backbone:
    """Build a registered backbone; an unknown name raises an error listing the known ones."""
    cls = BACKBONES.get(name)
    return cls(in_channels, tasks, **BACKBONES.validate_params(name, dict(params)))


class ResidualBlock(nn.Module):
    """Two convolutions with batch norm and a (projected) shortcut; ``stride`` downsamples."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 5, stride: int = 2) -> None:
        super().__init__()
        pad = kernel // 2
        self.body = nn.Sequential(
            nn.Conv1d(c_in, c_out, kernel, stride=stride, padding=pad, bias=False),
            nn.BatchNorm1d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv1d(c_out, c_out, kernel, padding=pad, bias=False),
            nn.BatchNorm1d(c_out),
        )
        self.shortcut = (
            nn.Identity()
            if c_in == c_out and stride == 1
            else nn.Sequential(nn.Conv1d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm1d(c_out))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


def stem(in_channels: int, width: int) -> nn.Sequential:
    """Wide first convolution (0.1 s at 125 Hz) and a stride of 2."""
    return nn.Sequential(
        nn.Conv1d(in_channels, width, 13, stride=2, padding=6, bias=False),
        nn.BatchNorm1d(width),
        nn.ReLU(inplace=True),
    )


def residual_stack(first: int, widths: Sequence[int], kernel: int) -> nn.ModuleList:
    blocks, c_in = [], first
    for w in widths:
        blocks.append(ResidualBlock(c_in, w, kernel=kernel, stride=2))
        c_in = w
    return nn.ModuleList(blocks)
