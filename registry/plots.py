"""Evidence plots for a run: Bland-Altman for every regression task, ROC for AF (PNG bytes)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from ppg_models.evaluation import agreement
from ppg_models.tasks import get_task


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def bland_altman(frame: pd.DataFrame, task: str) -> bytes | None:
    ba = agreement.bland_altman(frame, task)
    if ba is None:
        return None
    unit = get_task(task).unit
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.scatter(ba.mean, ba.difference, s=6, alpha=0.5)
    for level, style in ((ba.bias, "-"), (ba.limits[1], "--"), (ba.limits[0], "--")):
        ax.axhline(level, color="k", linestyle=style, linewidth=1)
    ax.set_xlabel(f"mean of estimate and reference ({unit})")
    ax.set_ylabel(f"estimate - reference ({unit})")
    ax.set_title(f"{task}: bias {ba.bias:.2f}, limits of agreement ±{1.96 * ba.sd:.2f} (n={ba.mean.size})")
    return _png(fig)


def roc(frame: pd.DataFrame, task: str = "af") -> bytes | None:
    curve = agreement.roc(frame, task)
    if curve is None:
        return None
    fpr, tpr = curve
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot(fpr, tpr)
    ax.plot([0, 1], [0, 1], "k:", linewidth=1)
    ax.axvline(0.05, color="r", linestyle="--", linewidth=0.8)  # 95 % specificity
    ax.set_xlabel("1 - specificity")
    ax.set_ylabel("sensitivity")
    ax.set_title(f"{task} ROC (n={agreement.paired(frame, task)[0].size})")
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


def pareto_plot(frame: pd.DataFrame, x: str, y: str, front: pd.Series, chosen: int | None) -> bytes:
    """Trials on two objectives: infeasible grey, feasible blue, the Pareto front ringed, the choice
    starred."""
    fig, ax = plt.subplots(figsize=(5, 3.8))
    feasible = frame["feasible"].astype(bool)
    ax.scatter(frame.loc[~feasible, x], frame.loc[~feasible, y], c="0.7", s=18, label="infeasible (AF)")
    ax.scatter(frame.loc[feasible, x], frame.loc[feasible, y], c="tab:blue", s=18, label="feasible")
    ax.scatter(
        frame.loc[front, x], frame.loc[front, y], facecolors="none", edgecolors="k", s=70, label="Pareto"
    )
    if chosen is not None:
        ax.scatter(
            [frame.loc[chosen, x]], [frame.loc[chosen, y]], marker="*", c="tab:red", s=160, label="chosen"
        )
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.legend(fontsize=7)
    return _png(fig)
