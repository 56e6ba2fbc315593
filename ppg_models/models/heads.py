"""Task heads. A head reads its group's features for its task (batch, C, steps) and, where it needs
another view, the model input (batch, len(INPUT_CHANNELS), samples); it returns one value per task.

Heads are chosen by the catalogue's head name (SBP and DBP share "bp"), falling back on the task kind.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ppg_models.models.inputs import INPUT_CHANNELS
from ppg_models.tasks import get_task

RED, IR, PULSE = INPUT_CHANNELS.index("red"), INPUT_CHANNELS.index("ir"), INPUT_CHANNELS.index("pulse")
PI_RED, PI_IR = INPUT_CHANNELS.index("pi_red"), INPUT_CHANNELS.index("pi_ir")


def mlp(c_in: int, c_out: int, hidden: int = 64) -> nn.Sequential:
    return nn.Sequential(nn.Linear(c_in, hidden), nn.GELU(), nn.Dropout(0.1), nn.Linear(hidden, c_out))


class Head(nn.Module):
    def __init__(self, in_channels: int, tasks: Sequence[str]) -> None:
        super().__init__()
        self.tasks = tuple(tasks)

    def forward(self, features: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """-> (batch, len(tasks))"""
        raise NotImplementedError


class PooledRegression(Head):
    """Average and max pooling over time, then an MLP (HR; SBP and DBP together)."""

    def __init__(self, in_channels: int, tasks: Sequence[str]) -> None:
        super().__init__(in_channels, tasks)
        self.mlp = mlp(2 * in_channels, len(self.tasks))

    def forward(self, features: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(torch.cat([features.mean(dim=2), features.amax(dim=2)], dim=1))


class ChannelAttentionSpO2(Head):
    """Attention from the pooled features over per-channel tokens of the red and infrared signals.

    Each of red and IR is encoded separately (shared weights plus a channel embedding), so the head can
    compare the two channels' pulse shapes. The log ratio of ratios, ln((AC/DC)_red / (AC/DC)_ir), which
    determines SpO2, comes from the perfusion channels and is given to the MLP.
    """

    def __init__(self, in_channels: int, tasks: Sequence[str], dim: int = 32) -> None:
        super().__init__(in_channels, tasks)
        self.encoder = nn.Sequential(
            nn.Conv1d(1, 16, 9, stride=4, padding=4),
            nn.GELU(),
            nn.Conv1d(16, dim, 9, stride=4, padding=4),
            nn.GELU(),
        )
        self.channel_embedding = nn.Parameter(torch.randn(2, dim) * 0.1)
        self.query = nn.Linear(in_channels, dim)
        self.attention = nn.MultiheadAttention(dim, num_heads=4, batch_first=True)
        self.mlp = mlp(in_channels + dim + 1, len(self.tasks))

    def forward(self, features: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        channels = x[:, [RED, IR]]  # (batch, 2, samples)
        b = channels.shape[0]
        tokens = self.encoder(channels.reshape(b * 2, 1, -1))  # (batch*2, dim, steps)
        tokens = tokens.view(b, 2, tokens.shape[1], -1).permute(0, 1, 3, 2)  # (batch, 2, steps, dim)
        tokens = (tokens + self.channel_embedding[None, :, None, :]).reshape(b, -1, tokens.shape[-1])
        pooled = features.mean(dim=2)
        attended, _ = self.attention(self.query(pooled).unsqueeze(1), tokens, tokens)
        log_ratio = x[:, PI_RED, :1] - x[:, PI_IR, :1]
        return self.mlp(torch.cat([pooled, attended.squeeze(1), log_ratio], dim=1))


class LowFrequencyRR(Head):
    """Respiratory rate from a long-context view: a GRU over the whole feature sequence plus dilated
    convolutions over the input decimated to 5 Hz, where breathing modulations live."""

    def __init__(self, in_channels: int, tasks: Sequence[str], hidden: int = 48) -> None:
        super().__init__(in_channels, tasks)
        self.gru = nn.GRU(in_channels, hidden, batch_first=True)
        self.slow = nn.Sequential(
            nn.Conv1d(len(INPUT_CHANNELS), 32, 7, padding=3),
            nn.GELU(),
            nn.Conv1d(32, 32, 7, padding=6, dilation=2),
            nn.GELU(),
            nn.Conv1d(32, 32, 7, padding=12, dilation=4),
            nn.GELU(),
        )
        self.mlp = mlp(hidden + 32, len(self.tasks))

    def forward(self, features: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        _, last = self.gru(features.transpose(1, 2))
        slow = self.slow(F.avg_pool1d(x, 25)).mean(dim=2)  # 125 Hz -> 5 Hz
        return self.mlp(torch.cat([last[-1], slow], dim=1))


class AttentionLogit(Head):
    """A logit from attention pooling over time plus the spread of the features (AF: irregularity)."""

    def __init__(self, in_channels: int, tasks: Sequence[str]) -> None:
        super().__init__(in_channels, tasks)
        self.score = nn.Conv1d(in_channels, 1, 1)
        self.mlp = mlp(2 * in_channels, len(self.tasks))

    def forward(self, features: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        weights = self.score(features).softmax(dim=2)  # (batch, 1, steps)
        pooled = (features * weights).sum(dim=2)
        return self.mlp(torch.cat([pooled, features.std(dim=2)], dim=1))


class DilatedBlock(nn.Module):
    """A residual dilated convolution: (batch, dim, steps) -> same shape."""

    def __init__(self, dim: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(dim, dim, 3, padding=dilation, dilation=dilation)
        self.norm = nn.BatchNorm1d(dim)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + F.gelu(self.norm(self.conv(h)))


class RhythmLogit(Head):
    """AF: shared features plus a private rhythm encoder of the pulse that sees several beats at 32 ms.

    Atrial fibrillation is the irregularity of successive beat intervals: a timing detail that the
    shared features (0.256 s steps, shaped by the regression tasks too) blur, and that a short window
    cannot see (one beat interval is 0.3-2 s). The private encoder keeps 31.25 Hz resolution and stacks
    dilated residual convolutions (dilations 1-32) to a receptive field of about 4.2 s, four or more
    beats at any heart rate above 60 bpm, so each step compares several intervals. Pooled by attention,
    by spread over time and by the mean step-to-step change (irregularity), with the shared view.
    """

    DILATIONS = (1, 2, 4, 8, 16, 32)

    def __init__(self, in_channels: int, tasks: Sequence[str], dim: int = 32) -> None:
        super().__init__(in_channels, tasks)
        self.pulse = nn.Sequential(
            nn.Conv1d(1, 16, 7, stride=2, padding=3),  # 62.5 Hz
            nn.GELU(),
            nn.Conv1d(16, dim, 7, stride=2, padding=3),  # 31.25 Hz
            nn.GELU(),
            *(DilatedBlock(dim, d) for d in self.DILATIONS),
        )
        self.score_shared = nn.Conv1d(in_channels, 1, 1)
        self.score_pulse = nn.Conv1d(dim, 1, 1)
        self.mlp = mlp(2 * in_channels + 3 * dim, len(self.tasks))

    @staticmethod
    def _pool(h: torch.Tensor, score: nn.Conv1d) -> torch.Tensor:
        weights = score(h).softmax(dim=2)
        return torch.cat([(h * weights).sum(dim=2), h.std(dim=2)], dim=1)

    @staticmethod
    def receptive_field_seconds() -> float:
        """Of the private encoder, at its 31.25 Hz output (stem included)."""
        steps = 1 + 2 * sum(RhythmLogit.DILATIONS)  # kernel 3 per block
        return (steps * 4 + 6 + 12) / 125.0  # two stride-2 stems of kernel 7

    def forward(self, features: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        pulse = self.pulse(x[:, PULSE : PULSE + 1])  # (batch, dim, 313) at 31.25 Hz
        change = (pulse[:, :, 1:] - pulse[:, :, :-1]).abs().mean(dim=2)  # (batch, dim)
        return self.mlp(
            torch.cat(
                [self._pool(features, self.score_shared), self._pool(pulse, self.score_pulse), change], dim=1
            )
        )


HEADS_BY_NAME: dict[str, type[Head]] = {
    "hr": PooledRegression,
    "spo2": ChannelAttentionSpO2,
    "rr": LowFrequencyRR,
    "bp": PooledRegression,
    "af": RhythmLogit,
}
HEADS_BY_KIND: dict[str, type[Head]] = {"regression": PooledRegression, "binary": AttentionLogit}


def head_class(head_name: str, task: str) -> type[Head]:
    return HEADS_BY_NAME.get(head_name) or HEADS_BY_KIND[get_task(task).kind]
