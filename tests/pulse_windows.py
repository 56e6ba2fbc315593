"""Clean simulated red/IR windows whose beats fall exactly where a test puts them."""

import numpy as np
import pyarrow as pa

from ppg_models.data.arrays import to_list_array
from ppg_models.sim.pulse import pulse_shape, render_pulse
from ppg_models.sim.rhythm import Beats


def clean_windows(onsets: list[np.ndarray], bpm: list[float], fs: float = 125.0, amplitude: float = 1.0):
    """Raw DC-coupled red/IR windows (beats as dips, 10 s at ``fs``): window i has its beats at
    ``onsets[i]`` (s) and the pulse shape of a ``bpm[i]`` heart rate; no green channel."""
    ir, red = [], []
    for times, rate in zip(onsets, bpm, strict=True):
        shape = pulse_shape(
            np.array([120.0]),
            np.array([80.0]),
            np.array([float(rate)]),
            np.array([1.0]),
            np.array([0.5]),
            np.random.default_rng(0),
        )
        beats = np.asarray(times, dtype=np.float64)[None, :]
        pulse = render_pulse(Beats(beats, np.ones_like(beats)), shape, fs, round(10 * fs))[0]
        ir.append(amplitude * 30000 * (1 - 0.02 * pulse))
        red.append(amplitude * 24000 * (1 - 0.012 * pulse))
    n = len(onsets)
    return pa.table(
        {
            "window_id": [f"w{i}" for i in range(n)],
            "fs": [fs] * n,
            "red": to_list_array(np.stack(red)),
            "ir": to_list_array(np.stack(ir)),
            "green": pa.nulls(n, pa.list_(pa.float32())),
        }
    )
