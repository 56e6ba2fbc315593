"""Evidence plots for a run: Bland-Altman for every regression task, ROC for AF (PNG bytes)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ppg_models.tasks import get_task


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def bland_altman(frame: pd.DataFrame, task: str) -> bytes | None:
    y = frame[f"label_{task}"].to_numpy(dtype=float, na_value=np.nan)
    p = frame[f"pred_{task}"].to_numpy(dtype=float, na_value=np.nan)
    ok = np.isfinite(y) & np.isfinite(p)
    if ok.sum() < 2:
        return None
    mean, diff = (y[ok] + p[ok]) / 2, p[ok] - y[ok]
    bias, sd = diff.mean(), diff.std(ddof=1)
    unit = get_task(task).unit
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.scatter(mean, diff, s=6, alpha=0.5)
    for level, style in ((bias, "-"), (bias + 1.96 * sd, "--"), (bias - 1.96 * sd, "--")):
        ax.axhline(level, color="k", linestyle=style, linewidth=1)
    ax.set_xlabel(f"mean of estimate and reference ({unit})")
    ax.set_ylabel(f"estimate - reference ({unit})")
    ax.set_title(f"{task}: bias {bias:.2f}, limits of agreement ±{1.96 * sd:.2f} (n={ok.sum()})")
    return _png(fig)


def roc(frame: pd.DataFrame, task: str = "af") -> bytes | None:
    y = frame[f"label_{task}"].to_numpy(dtype=float, na_value=np.nan)
    p = frame[f"pred_{task}"].to_numpy(dtype=float, na_value=np.nan)
    ok = np.isfinite(y) & np.isfinite(p)
    y, p = y[ok], p[ok]
    if len(np.unique(y)) < 2:
        return None
    order = np.argsort(-p)
    tpr = np.concatenate([[0], np.cumsum(y[order] == 1) / (y == 1).sum()])
    fpr = np.concatenate([[0], np.cumsum(y[order] == 0) / (y == 0).sum()])
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot(fpr, tpr)
    ax.plot([0, 1], [0, 1], "k:", linewidth=1)
    ax.axvline(0.05, color="r", linestyle="--", linewidth=0.8)  # 95 % specificity
    ax.set_xlabel("1 - specificity")
    ax.set_ylabel("sensitivity")
    ax.set_title(f"{task} ROC (n={len(y)})")
    return _png(fig)


def evidence_plots(frame: pd.DataFrame, tasks: list[str]) -> dict[str, bytes]:
    """File name -> PNG for every task the frame has predictions for."""
    out = {}
    for task in tasks:
        if f"pred_{task}" not in frame:
            continue
        png = roc(frame, task) if get_task(task).kind == "binary" else bland_altman(frame, task)
        if png is not None:
            name = "roc" if get_task(task).kind == "binary" else "bland_altman"
            out[f"{name}_{task}.png"] = png
    return out
