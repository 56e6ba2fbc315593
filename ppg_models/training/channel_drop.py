"""Channel dropout per training step: windows that lose every channel but one.

Single-channel exports (IR only from a pulse oximeter's pleth, green only from a wrist wearable) are
common, and a model that has always seen red beside IR learns to lean on red's spectrum for HR and
AF: on IR-only exports its HR error rose by a quarter (``benchmarks/single_channel.py``). Export
augmentation (``data.exports.augment``) replaces a fixed few windows once; this draws afresh at every
step, so every window is seen both ways across epochs.

The kept channel is the one the ``pulse`` input was taken from, or green where the window has it (half
of those), with the pulse, beat-rate and beat-interval inputs rebuilt from it: the reduced window is
exactly what a real IR-only or green-only export of it would give (``models.inputs`` builds them from
the best present channel), up to the orientation vote, which a real export takes on its one channel. Labels
the reduced window cannot support (SpO2 without red) become unlabeled for that step, as
``training.data.windows_from_table`` does for a real single-channel window.
"""

from __future__ import annotations

import numpy as np

from ppg_models.models.inputs import INPUT_CHANNELS, PI_CHANNELS, pulse_channel, set_pulse_timing
from ppg_models.tasks import CHANNELS

_GREEN = CHANNELS.index("green")
_PULSE = INPUT_CHANNELS.index("pulse")
#: of the reduced windows that have green beside their pulse channel, the share reduced to green
GREEN_SHARE = 0.5


def drop_channels(
    x: np.ndarray, present: np.ndarray, level: np.ndarray, share: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A ``share`` of the windows (those with more than one channel) reduced to one channel: the pulse's,
    or, for half of those that have green beside it, green (the wrist wearables' only channel; its
    pulse and pulse-timing inputs are then rebuilt from green, as ``models.inputs`` would).

    ``x`` (windows, INPUT_CHANNELS, samples) is changed in place (pass a copy); returns ``x`` and the
    windows' new ``present`` and ``level`` flags, and the rows that were reduced."""
    present, level = present.copy(), level.copy()
    keep = pulse_channel(present)
    rows = np.flatnonzero((present.sum(axis=1) > 1) & (rng.random(len(x)) < share))
    to_green = rows[(rng.random(rows.size) < GREEN_SHARE) & present[rows, _GREEN] & (keep[rows] != _GREEN)]
    keep[to_green] = _GREEN
    for c, channel in enumerate(CHANNELS):
        lose = rows[keep[rows] != c]
        x[lose, INPUT_CHANNELS.index(channel)] = 0.0
        x[lose, INPUT_CHANNELS.index(PI_CHANNELS[c])] = 0.0
        present[lose, c] = False
        level[lose, c] = False
    if to_green.size:
        x[to_green, _PULSE] = x[to_green, INPUT_CHANNELS.index("green")]
        set_pulse_timing(x, to_green)
    return x, present, level, rows
