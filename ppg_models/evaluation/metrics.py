"""Point metrics used by baselines and evaluation (confidence intervals live with the report)."""

from __future__ import annotations

import numpy as np
from scipy import stats


def _paired(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    ok = ~(np.isnan(y_true) | np.isnan(y_pred))
    return y_true[ok], y_pred[ok]


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error over the windows where both label and estimate exist (NaN if none)."""
    t, p = _paired(y_true, y_pred)
    return float(np.mean(np.abs(p - t))) if t.size else float("nan")


def auroc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum identity (ties count half); NaN with one class."""
    t, s = _paired(y_true, score)
    positives = int(t.sum())
    negatives = t.size - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = stats.rankdata(s)
    return float((ranks[t == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))
