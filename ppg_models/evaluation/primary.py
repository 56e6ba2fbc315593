"""Each task's primary metric on a labeled set, without intervals: what a search or a learning curve
reads every epoch (the evaluation report, with its bootstrap, is for the test set)."""

from __future__ import annotations

import numpy as np

from ppg_models.evaluation.metrics import METRICS
from ppg_models.tasks import get_task


def primary_metrics(predictions: dict[str, np.ndarray], labels: dict[str, np.ndarray]) -> dict[str, float]:
    """Task -> primary metric over the windows both labeled and estimated (NaN when there are none, or,
    for AF, when one class is missing)."""
    out = {}
    for task, pred in predictions.items():
        y = labels[task].astype(float)
        ok = ~(np.isnan(y) | np.isnan(pred))
        if not ok.any():
            out[task] = float("nan")
            continue
        value = METRICS[get_task(task).primary_metric](y[ok], pred[ok], np.ones((1, int(ok.sum()))))[0]
        out[task] = float(value)
    return out
