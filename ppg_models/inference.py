"""Per-window vital-sign estimates from a model bundle, for batches as they come; the impossible refused.

An estimate is withheld (NaN) with a reason when the window lacks what the task needs (channels, or
for SpO2 a physical DC level), when it lies outside the task's valid range (a model can extrapolate:
no heart rate of -208 bpm is ever printed), or when the window fails the quality checks the ingest
flow uses (missing, flat or clipped samples, too little cardiac power, no pulse above the broadband
noise floor: white noise from a sensor off the skin). Every row carries a quality score in [0, 1]: the
cardiac power ratio of its pulse channel times the share of usable samples, scaled down when the pulse
stands less than twice the required margin above the noise floor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ppg_models.data.quality import batch_quality
from ppg_models.ingest.policy import DEFAULT_QUALITY
from ppg_models.models.inputs import MODEL_FS, ModelInputs, prepare_inputs
from ppg_models.models.multitask import MultiTaskModel
from ppg_models.tasks import CHANNELS, PULSE_PREFERENCE, get_task

#: Quality limits that hold whatever the export: the perfusion index needs a physical level.
QUALITY_LIMITS = {k: v for k, v in DEFAULT_QUALITY.items() if k != "perfusion_index"}


@dataclass
class Prediction:
    estimates: pd.DataFrame  # one row per window: window_id, start, end, quality, tasks, reasons
    not_estimated: dict[str, str]  # task -> summary of why some windows got no estimate


def _pulse_quality(table: pa.Table, inputs: ModelInputs) -> tuple[np.ndarray, list[list[str]]]:
    """Quality score and failed quality checks of each window's pulse channel (the best present one)."""
    features = batch_quality(table)
    n = table.num_rows
    chosen = np.full(n, -1)
    for channel in reversed(PULSE_PREFERENCE):  # best channel wins: written last
        chosen[inputs.present[:, CHANNELS.index(channel)]] = CHANNELS.index(channel)
    value = {k: np.full(n, np.nan) for k in QUALITY_LIMITS}
    for c, channel in enumerate(CHANNELS):
        rows = chosen == c
        if rows.any():
            for k in QUALITY_LIMITS:
                value[k][rows] = features[f"{channel}_{k}"].to_numpy()[rows]
    usable = 1.0 - np.maximum.reduce([value["missing_frac"], value["flat_frac"], value["clipped_frac"]])
    snr, needed = value["pulse_snr_db"], QUALITY_LIMITS["pulse_snr_db"].min
    evidence = np.where(np.isnan(snr), 1.0, np.clip(snr / (2 * needed), 0.0, 1.0))  # 1 from twice the need
    score = np.nan_to_num(np.clip(value["cardiac_power_ratio"] * usable * evidence, 0.0, 1.0))
    failures: list[list[str]] = [[] if c >= 0 else ["no usable channel"] for c in chosen]
    for name, limit in QUALITY_LIMITS.items():
        v = value[name]
        checks = [(f">= {limit.min:g}", v < limit.min)] if limit.min is not None else []
        checks += [(f"<= {limit.max:g}", v > limit.max)] if limit.max is not None else []
        for need, broken in checks:
            for i in np.flatnonzero(broken & (chosen >= 0)):
                failures[i].append(f"{CHANNELS[chosen[i]]} {name} {v[i]:.3g} (needs {need})")
    return score, failures


def _times(table: pa.Table) -> tuple[pd.Series, pd.Series]:
    """Start and end of each window (NaT where the batch has no recording time)."""
    if "recorded_at" in table.column_names:
        start = pd.Series(pd.to_datetime(table.column("recorded_at").to_pandas(), utc=True))
    else:  # a caller that sends bare windows (the MLflow pyfunc flavour): times unknown, not an error
        start = pd.Series(pd.NaT, index=range(table.num_rows), dtype="datetime64[ns, UTC]")
    samples = np.zeros(table.num_rows)
    for channel in CHANNELS:
        length = pc.list_value_length(table.column(channel)).to_numpy(zero_copy_only=False)
        samples = np.maximum(samples, np.nan_to_num(length.astype(float)))
    fs = table.column("fs").to_numpy()
    return start, start + pd.to_timedelta(samples / np.where(fs > 0, fs, MODEL_FS), unit="s")


def predict_table(model: MultiTaskModel, table: pa.Table) -> Prediction:
    inputs = prepare_inputs(table)
    preds = model.predict(inputs)
    quality, quality_failures = _pulse_quality(table, inputs)
    start, end = _times(table)
    reasons: list[list[str]] = [[] for _ in range(table.num_rows)]
    summary: dict[str, str] = {}
    for task, values in preds.items():
        spec = get_task(task)
        values = values.astype(np.float64)
        lacking = ~spec.estimable(inputs.present, np.ones_like(inputs.level))
        no_level = ~lacking & ~spec.estimable(inputs.present, inputs.level)
        lo, hi = spec.valid_range
        impossible = np.isfinite(values) & ((values < lo) | (values > hi))
        poor = np.array([bool(f) for f in quality_failures]) & ~lacking & ~no_level
        for i in np.flatnonzero(impossible):
            reasons[i].append(f"{task}: estimate {values[i]:.4g} {spec.unit} outside {lo:g}-{hi:g}")
        for i in np.flatnonzero(poor):
            reasons[i].append(f"{task}: poor signal ({'; '.join(quality_failures[i])})")
        for i in np.flatnonzero(no_level):
            reasons[i].append(
                f"{task}: no physical DC level on {'/'.join(spec.needs_level)} (AC-coupled or rescaled)"
            )
        withheld = lacking | no_level | impossible | poor
        preds[task] = np.where(withheld, np.nan, values)
        parts = []
        if lacking.any():
            need = " and ".join(spec.needs_all) if spec.needs_all else "any of " + "/".join(spec.needs_any)
            parts.append(f"{int(lacking.sum())} lack {need}")
        counted = {
            "have no physical DC level": no_level,
            "were outside the valid range": impossible,
            "failed the quality checks": poor,
        }
        parts += [f"{int(mask.sum())} {why}" for why, mask in counted.items() if mask.any()]
        if parts:
            summary[task] = f"{int(withheld.sum())} of {len(values)} windows: " + ", ".join(parts)
    frame = pd.DataFrame(
        {
            "window_id": table.column("window_id").to_pylist(),
            "start": start,
            "end": end,
            "quality": quality.round(3),
            **preds,
            "reasons": ["; ".join(r) for r in reasons],
        }
    )
    return Prediction(frame, summary)
