"""Paired comparison of two models on the same windows: the difference in a task's primary metric with a
bootstrap over subjects (AF: positive and negative subjects drawn apart). The gate's non-inferiority
checks and the multi-task benchmark use it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ppg_models.evaluation.metrics import METRICS
from ppg_models.evaluation.report import Interval, subject_weights
from ppg_models.tasks import get_task


def paired_improvement(
    candidate: pd.DataFrame, champion: pd.DataFrame, task: str, resamples: int, seed: int
) -> tuple[Interval, int, int]:
    """Improvement of the candidate over the champion in the task's primary metric, on shared windows.

    Positive is better whatever the metric's direction. Returns the point value with its 95 % paired
    bootstrap interval over subjects, and the numbers of windows and subjects used.
    """
    spec = get_task(task)
    merged = candidate.merge(champion[["window_id", f"pred_{task}"]], on="window_id", suffixes=("", "_champ"))
    y = merged[f"label_{task}"].to_numpy(dtype=float, na_value=np.nan)
    p_new = merged[f"pred_{task}"].to_numpy(dtype=float, na_value=np.nan)
    p_old = merged[f"pred_{task}_champ"].to_numpy(dtype=float, na_value=np.nan)
    ok = np.isfinite(y) & np.isfinite(p_new) & np.isfinite(p_old)
    if not ok.any():
        return Interval(float("nan"), float("nan"), float("nan")), 0, 0
    y, p_new, p_old = y[ok], p_new[ok], p_old[ok]
    codes, uniques = pd.factorize(merged["subject_id"][ok])
    strata = None
    if spec.kind == "binary":  # positive and negative subjects drawn apart: every resample has both
        strata = np.zeros(len(uniques), bool)
        strata[codes[y == 1]] = True
    weights = subject_weights(codes, len(uniques), resamples, seed, strata)
    fn, sign = METRICS[spec.primary_metric], (1.0 if spec.higher_is_better else -1.0)
    ones = np.ones((1, y.size))
    point = sign * float(fn(y, p_new, ones)[0] - fn(y, p_old, ones)[0])
    boot = sign * (fn(y, p_new, weights) - fn(y, p_old, weights))
    boot = boot[np.isfinite(boot)]
    low, high = np.percentile(boot, [2.5, 97.5]) if boot.size else (np.nan, np.nan)
    return Interval(point, float(low), float(high)), int(y.size), len(uniques)
