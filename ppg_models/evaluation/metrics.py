"""Metrics, vectorised over bootstrap resamples.

Every metric takes labels ``y`` (n,), estimates ``p`` (n,) and a weight matrix ``w`` (resamples, n) and
returns (resamples,) values. A subject bootstrap gives each window its subject's draw count as weight;
the point estimate uses one row of ones. Plain-array helpers ``mae`` and ``auroc`` wrap them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Metric = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _mean(w: np.ndarray, v: np.ndarray) -> np.ndarray:
    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (w @ v) / np.where(total > 0, total, 1), np.nan)


def m_mae(y, p, w):
    return _mean(w, np.abs(p - y))


def m_rmse(y, p, w):
    return np.sqrt(_mean(w, (p - y) ** 2))


def m_bias(y, p, w):
    return _mean(w, p - y)


def m_sd(y, p, w):
    e = p - y
    return np.sqrt(np.maximum(_mean(w, e**2) - _mean(w, e) ** 2, 0.0))


def m_within(y, p, w):
    """Share within +-5 bpm or +-10% of the label, whichever is wider."""
    return _mean(w, (np.abs(p - y) <= np.maximum(5.0, 0.1 * np.abs(y))).astype(float))


def _roc_counts(y, p, w):
    """Positive and negative weight per distinct score, scores ascending: (resamples, distinct)."""
    order = np.argsort(p, kind="mergesort")
    ps = p[order]
    starts = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])
    wy = w[:, order] * y[order]
    wn = w[:, order] * (1 - y[order])
    return np.add.reduceat(wy, starts, axis=1), np.add.reduceat(wn, starts, axis=1), ps[starts]


def m_auroc(y, p, w):
    pos, neg, _ = _roc_counts(y, p, w)
    below = np.cumsum(neg, axis=1) - neg
    total = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(
            total > 0, (pos * (below + 0.5 * neg)).sum(axis=1) / np.where(total > 0, total, 1), np.nan
        )


def _sens_at_spec(level: float) -> Metric:
    def metric(y, p, w):
        pos, neg, _ = _roc_counts(y, p, w)
        n_pos, n_neg = pos.sum(axis=1, keepdims=True), neg.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            spec = np.cumsum(neg, axis=1) / n_neg  # call positive above each distinct score
            sens = 1 - np.cumsum(pos, axis=1) / n_pos
            best = np.where(spec >= level - 1e-12, sens, -np.inf).max(axis=1)
        return np.where((n_pos[:, 0] > 0) & (n_neg[:, 0] > 0) & np.isfinite(best), best, np.nan)

    metric.__doc__ = f"Highest sensitivity with specificity >= {level:.0%}."
    return metric


def m_f1(y, p, w):
    """F1 at probability 0.5."""
    hit = (p >= 0.5).astype(float)
    tp, fp, fn = w @ (hit * y), w @ (hit * (1 - y)), w @ ((1 - hit) * y)
    denom = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), np.nan)


def m_ece(y, p, w, bins: int = 10):
    """Expected calibration error over ``bins`` equal-width probability bins."""
    onehot = np.eye(bins)[np.clip((p * bins).astype(int), 0, bins - 1)]  # (n, bins)
    count, conf, acc = w @ onehot, w @ (onehot * p[:, None]), w @ (onehot * y[:, None])
    total = count.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.abs(conf - acc).sum(axis=1) / np.where(total > 0, total, 1), np.nan)


METRICS: dict[str, Metric] = {
    "mae": m_mae,
    "rmse": m_rmse,
    "arms": m_rmse,  # SpO2 accuracy root mean square (ISO 80601-2-61)
    "bias": m_bias,
    "mean_error": m_bias,  # ISO 81060-2 mean error
    "sd_error": m_sd,
    "within_5bpm_or_10pct": m_within,
    "auroc": m_auroc,
    "sens_at_spec95": _sens_at_spec(0.95),
    "sens_at_spec97": _sens_at_spec(0.97),
    "f1": m_f1,
    "ece": m_ece,
}


def _paired(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    ok = ~(np.isnan(y_true) | np.isnan(y_pred))
    return y_true[ok], y_pred[ok]


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error over the windows where both label and estimate exist (NaN if none)."""
    t, p = _paired(y_true, y_pred)
    return float(m_mae(t, p, np.ones((1, t.size)))[0]) if t.size else float("nan")


def auroc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (ties count half); NaN with one class."""
    t, s = _paired(y_true, score)
    return float(m_auroc(t, s, np.ones((1, t.size)))[0]) if t.size else float("nan")
