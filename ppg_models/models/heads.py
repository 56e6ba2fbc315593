"""Task heads. A head reads its group's features for its task (batch, C, steps) and, where it needs
another view, the model input (batch, len(spec.input_channels), samples); it returns one value per task.

Heads are chosen by the catalogue's head name (SBP and DBP share "bp"), falling back on the task kind.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ppg_models.models.inputs import BASE_INPUTS, INPUT_CHANNELS, MODEL_FS, WINDOW_SAMPLES
from ppg_models.tasks import get_task

RED, IR, PULSE = INPUT_CHANNELS.index("red"), INPUT_CHANNELS.index("ir"), INPUT_CHANNELS.index("pulse")
PI_RED, PI_IR = INPUT_CHANNELS.index("pi_red"), INPUT_CHANNELS.index("pi_ir")
LIGHTS = [INPUT_CHANNELS.index(c) for c in ("red", "ir", "green")]
BEAT_RATE = INPUT_CHANNELS.index("beat_rate")
BEAT_INTERVAL = INPUT_CHANNELS.index("beat_interval")


def mlp(c_in: int, c_out: int, hidden: int = 64) -> nn.Sequential:
    return nn.Sequential(nn.Linear(c_in, hidden), nn.GELU(), nn.Dropout(0.1), nn.Linear(hidden, c_out))


class Head(nn.Module):
    in_label_units = False  # True: built with the task's label scaling (mean, std) as ``scaling``
    reads_counted_rate = False  # True: built with ``counted_rate`` (the spec's ``hr_counted_rate``)
    reads_inputs = False  # True: built with ``inputs``, the names of the input channels the model reads

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


class SpectralHR(Head):
    """Heart rate as a frequency: a distribution over candidate pulse frequencies, read off the spectrum.

    A pulse rate is the fundamental of the pulse wave. The head takes the power spectrum of each light
    channel (Hann window, 4096-point FFT: 1.8 bpm bins), and for every candidate frequency f in 30-228
    bpm stacks the power at f/2, f, 2f and 3f (harmonic summation, as pitch trackers do: a dicrotic
    notch puts power at 2f, and a missed beat at f/2). Convolutions *along frequency* score each
    candidate from its neighbourhood; the estimate is the softmax-weighted mean frequency.

    - Sliding along frequency, the same weights judge 40 and 200 bpm: nothing pulls an estimate towards
      the training population's middle (a 164 bpm window is not read as 117 because tachycardia was
      rare in training).
    - The rate of the pulses a peak detector counted (the ``beat_rate`` input) is one more row beside
      the harmonics: a bump at that rate. It is what an HR label means ((beats - 1) / span), which the
      spectrum of a 10 s window with beat-to-beat variability only approximates; the convolutions
      learn where it agrees with the spectrum and where (motion) it does not. No pulses: a zero row.
    - Every channel is scored by the same weights, and the scores are averaged over the channels
      present, each weighted by a trust the head reads off that channel's own spectrum (a noisy channel
      counts less): one channel (IR only, green only) is read like several, with less evidence.
    - The estimate then takes the counted rate itself to the extent that the spectrum agrees with it
      (the spectral distribution's mass within ~2 bpm of the count), and the spectral rate for the
      rest. On a clean window a detector that counted every beat *is* the label, which the spectral
      readout only approaches: at rest the counted input alone is 0.79 bpm off, the model was 1.15-1.32
      and is 0.78-0.92 with this (2 seeds, benchmarks/robustness.py windows); under motion the counts
      go wrong, the spectrum disagrees and wins. No learned weights: a learned gate (tried) left clean
      windows at 1.11 bpm. A mix of two rates in the band stays in the band and adds no offset.
    - The shared features condition the scoring (one scale and shift per hidden channel, the same at
      every frequency), so HR still trains the backbone it shares. They add nothing to the estimate
      itself: an additive correction learned to trade a constant offset against the readout and left
      the estimate ~2.6 bpm low on clean windows (measured), while the softmax-weighted mean of
      candidate rates is unbiased where the spectrum is clean, and can never leave 30-228 bpm.
    """

    N_FFT = 4096
    BAND = (0.5, 3.8)  # Hz: 30-228 bpm
    HARMONICS = (0.5, 1.0, 2.0, 3.0)
    BEAT_SIGMA_BPM = 2.0  # width of the counted-rate bump: about one candidate bin either side
    in_label_units = True
    reads_counted_rate = True

    def __init__(
        self,
        in_channels: int,
        tasks: Sequence[str],
        scaling: tuple[float, float] = (0.0, 1.0),
        counted_rate: bool = True,
    ) -> None:
        super().__init__(in_channels, tasks)
        self.counted_rate = counted_rate  # False: the spectral rate alone (bundles saved before the mix)
        df = MODEL_FS / self.N_FFT
        lo, hi = int(np.ceil(self.BAND[0] / df)), int(np.floor(self.BAND[1] / df))
        bins = np.arange(lo, hi + 1)
        gather = np.stack([np.rint(bins * h).astype(np.int64) for h in self.HARMONICS])  # (harmonics, bins)
        self.register_buffer("gather", torch.from_numpy(gather), persistent=False)
        self.top_bin = int(gather.max()) + 1  # the highest spectral bin any candidate reads
        self.register_buffer("bpm", torch.from_numpy(bins * df * 60.0).float(), persistent=False)
        self.register_buffer("mean_std", torch.tensor(scaling, dtype=torch.float32), persistent=False)
        self.register_buffer("taper", torch.hann_window(WINDOW_SAMPLES, periodic=False), persistent=False)
        hidden = 32
        self.conv1 = nn.Conv1d(len(self.HARMONICS) + 1, hidden, 5, padding=2)
        self.conv2 = nn.Conv1d(hidden, hidden, 5, padding=2)
        self.score = nn.Conv1d(hidden, 1, 1)
        self.trust = nn.Linear(hidden, 1)  # how far to trust a channel, from its own spectrum
        self.film = nn.Linear(2 * in_channels, 2 * hidden)

    def spectra(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per light channel, (batch, channels, harmonics + 1, candidate frequencies): log power scaled
        to the channel's own mean power, then the counted-rate bump; and (batch, channels) whether the
        channel holds a signal."""
        shapes = x[:, LIGHTS].float()
        shapes = (shapes - shapes.mean(dim=2, keepdim=True)) * self.taper[: shapes.shape[2]]
        power = torch.fft.rfft(shapes, n=self.N_FFT, dim=2).abs().square()[:, :, : self.top_bin]
        level = power.mean(dim=2, keepdim=True)
        present = level.squeeze(2) > 1e-6
        stacked = torch.log1p(power[:, :, self.gather] / (level.unsqueeze(3) + 1e-8))
        counted = 60.0 * x[:, BEAT_RATE, :1].float()  # (batch, 1) bpm, 0 where no pulses were counted
        bump = self._near(counted) * (counted > 0)
        bump = bump.unsqueeze(1).expand(-1, stacked.shape[1], -1).unsqueeze(2)
        return torch.cat([stacked, bump], dim=2), present

    def forward(self, features: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([features.mean(dim=2), features.amax(dim=2)], dim=1)
        spectra, present = self.spectra(x)
        b, c = spectra.shape[:2]
        scale, shift = self.film(pooled).repeat_interleave(c, dim=0).unsqueeze(2).chunk(2, dim=1)
        h = F.gelu(self.conv1(spectra.flatten(0, 1)) * (1 + scale) + shift)
        h = F.gelu(self.conv2(h)) + h
        logits = self.score(h).view(b, c, -1)  # (batch, channels, bins)
        trust = self.trust(h.amax(dim=2)).view(b, c).masked_fill(~present, -1e4).softmax(dim=1)
        probs = (logits * trust.unsqueeze(2)).sum(dim=1).softmax(dim=1)
        bpm = (probs * self.bpm).sum(dim=1, keepdim=True)
        if self.counted_rate:
            bpm = self._mix(bpm, probs, x)
        mean, std = self.mean_std[0], self.mean_std[1]
        return (bpm - mean) / std  # standardised, like every regression head

    def _near(self, rate: torch.Tensor) -> torch.Tensor:
        """(batch, candidates): a bump of width BEAT_SIGMA_BPM over the candidate rates at ``rate`` (bpm)."""
        return torch.exp(-0.5 * ((self.bpm - rate) / self.BEAT_SIGMA_BPM).square())

    def _mix(self, spectral: torch.Tensor, probs: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """(batch, 1) bpm: the counted rate where the spectrum agrees with it, else the spectral rate."""
        counted = 60.0 * x[:, BEAT_RATE, :1].float()
        has_count = (counted > 0).float()
        counted = counted.clamp(self.bpm[0], self.bpm[-1])
        share = (probs * self._near(counted)).sum(dim=1, keepdim=True) * has_count  # spectrum's mass there
        return share * counted + (1 - share) * spectral


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
    convolutions over the input decimated to 5 Hz, where breathing modulations live (the baseline of
    the shape channels, and the respiratory sinus arrhythmia of the ``beat_interval`` tachogram)."""

    reads_inputs = True

    def __init__(
        self, in_channels: int, tasks: Sequence[str], hidden: int = 48, inputs: Sequence[str] = BASE_INPUTS
    ) -> None:
        super().__init__(in_channels, tasks)
        self.gru = nn.GRU(in_channels, hidden, batch_first=True)
        self.slow = nn.Sequential(
            nn.Conv1d(len(inputs), 32, 7, padding=3),
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

    Where the model reads the ``beat_interval`` tachogram, its spread and its mean change over half a
    second (about one beat: successive intervals) go to the MLP too: the irregularity itself, measured
    on the counted pulses, rather than left for the encoder to find in a few epochs.
    """

    DILATIONS = (1, 2, 4, 8, 16, 32)
    reads_inputs = True
    LAG = int(MODEL_FS // 2)  # samples: successive intervals on the tachogram

    def __init__(
        self, in_channels: int, tasks: Sequence[str], dim: int = 32, inputs: Sequence[str] = BASE_INPUTS
    ) -> None:
        super().__init__(in_channels, tasks)
        self.tachogram = "beat_interval" in inputs
        self.pulse = nn.Sequential(
            nn.Conv1d(1, 16, 7, stride=2, padding=3),  # 62.5 Hz
            nn.GELU(),
            nn.Conv1d(16, dim, 7, stride=2, padding=3),  # 31.25 Hz
            nn.GELU(),
            *(DilatedBlock(dim, d) for d in self.DILATIONS),
        )
        self.score_shared = nn.Conv1d(in_channels, 1, 1)
        self.score_pulse = nn.Conv1d(dim, 1, 1)
        self.mlp = mlp(2 * in_channels + 3 * dim + (2 if self.tachogram else 0), len(self.tasks))

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
        parts = [self._pool(features, self.score_shared), self._pool(pulse, self.score_pulse), change]
        if self.tachogram:
            s = x[:, BEAT_INTERVAL]
            successive = (s[:, self.LAG :] - s[:, : -self.LAG]).abs().mean(dim=1, keepdim=True)
            parts += [s.std(dim=1, keepdim=True), successive]
        return self.mlp(torch.cat(parts, dim=1))


HEADS_BY_NAME: dict[str, type[Head]] = {
    "hr": SpectralHR,
    "spo2": ChannelAttentionSpO2,
    "rr": LowFrequencyRR,
    "bp": PooledRegression,
    "af": RhythmLogit,
}
HEADS_BY_KIND: dict[str, type[Head]] = {"regression": PooledRegression, "binary": AttentionLogit}


def head_class(head_name: str, task: str) -> type[Head]:
    return HEADS_BY_NAME.get(head_name) or HEADS_BY_KIND[get_task(task).kind]
