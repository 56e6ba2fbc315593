"""The numbers behind the evidence plots, shared by the logged PNGs (``registry.plots``) and the dashboard:
Bland-Altman points with bias and limits of agreement, and ROC points."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


def paired(frame: pd.DataFrame, task: str) -> tuple[np.ndarray, np.ndarray]:
    """Labels and estimates of ``task`` where both are known."""
    y = pd.to_numeric(frame[f"label_{task}"], errors="coerce").to_numpy(float)
    p = pd.to_numeric(frame[f"pred_{task}"], errors="coerce").to_numpy(float)
    ok = np.isfinite(y) & np.isfinite(p)
    return y[ok], p[ok]


@dataclass(frozen=True)
class BlandAltman:
    mean: np.ndarray  # (estimate + reference) / 2
    difference: np.ndarray  # estimate - reference
    bias: float
    sd: float

    @property
    def limits(self) -> tuple[float, float]:
        return self.bias - 1.96 * self.sd, self.bias + 1.96 * self.sd


def bland_altman(frame: pd.DataFrame, task: str) -> BlandAltman | None:
    """None with fewer than two paired windows."""
    y, p = paired(frame, task)
    if y.size < 2:
        return None
    diff = p - y
    return BlandAltman((y + p) / 2, diff, float(diff.mean()), float(diff.std(ddof=1)))


def roc(frame: pd.DataFrame, task: str = "af") -> tuple[np.ndarray, np.ndarray] | None:
    """(false-positive rate, true-positive rate) at every threshold; None without both classes."""
    y, p = paired(frame, task)
    if len(np.unique(y)) < 2:
        return None
    order = np.argsort(-p, kind="stable")
    tpr = np.concatenate([[0], np.cumsum(y[order] == 1) / (y == 1).sum()])
    fpr = np.concatenate([[0], np.cumsum(y[order] == 0) / (y == 0).sum()])
    return fpr, tpr
