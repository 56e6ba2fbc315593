"""Altair charts built from plain tables: Bland-Altman and ROC overlaid per version, subgroup heatmaps that
show insufficient evidence as such, training curves, balancer weights and the task-affinity matrix."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ppg_models.evaluation import agreement
from ppg_models.tasks import get_task

WIDTH = 420


def bland_altman(frames: dict[str, pd.DataFrame], task: str) -> alt.Chart | None:
    """Difference against mean for each version (colour), with its bias and 95 % limits of agreement."""
    points, lines = [], []
    for version, frame in frames.items():
        ba = agreement.bland_altman(frame, task) if f"pred_{task}" in frame else None
        if ba is None:
            continue
        points.append(pd.DataFrame({"version": version, "mean": ba.mean, "difference": ba.difference}))
        lines += [
            {"version": version, "line": "bias", "value": ba.bias},
            {"version": version, "line": "bias + 1.96 SD", "value": ba.limits[1]},
            {"version": version, "line": "bias - 1.96 SD", "value": ba.limits[0]},
        ]
    if not points:
        return None
    unit = get_task(task).unit
    color = alt.Color("version:N", title="version", scale=alt.Scale(scheme="category10"))
    scatter = (
        alt.Chart(pd.concat(points))
        .mark_circle(size=18, opacity=0.45)
        .encode(
            x=alt.X("mean:Q", title=f"mean of estimate and reference ({unit})", scale=alt.Scale(zero=False)),
            y=alt.Y("difference:Q", title=f"estimate − reference ({unit})"),
            color=color,
        )
    )
    rules = (
        alt.Chart(pd.DataFrame(lines))
        .mark_rule()
        .encode(
            y="value:Q",
            color=color,
            strokeDash=alt.StrokeDash("line:N", title="", scale=alt.Scale(range=[[1, 0], [5, 3], [5, 3]])),
            tooltip=["version", "line", alt.Tooltip("value:Q", format=".2f")],
        )
    )
    return (scatter + rules).properties(width=WIDTH, height=280, title=f"{task.upper()}: Bland-Altman")


def roc(frames: dict[str, pd.DataFrame], task: str = "af") -> alt.Chart | None:
    curves = []
    for version, frame in frames.items():
        curve = agreement.roc(frame, task) if f"pred_{task}" in frame else None
        if curve is not None:
            fpr, tpr = curve
            auc = float(np.trapezoid(tpr, fpr))
            points = pd.DataFrame({"1 − specificity": fpr, "sensitivity": tpr})
            curves.append(points.assign(version=f"{version} (AUROC {auc:.3f})"))
    if not curves:
        return None
    lines = (
        alt.Chart(pd.concat(curves))
        .mark_line(interpolate="step-after")
        .encode(
            x=alt.X("1 − specificity:Q", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("sensitivity:Q", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("version:N", title="version", scale=alt.Scale(scheme="category10")),
        )
    )
    chance = alt.Chart(pd.DataFrame({"x": [0, 1], "y": [0, 1]})).mark_line(strokeDash=[2, 2], color="gray")
    spec95 = (
        alt.Chart(pd.DataFrame({"x": [0.05]})).mark_rule(color="firebrick", strokeDash=[4, 3]).encode(x="x")
    )
    chance = chance.encode(x="x:Q", y="y:Q")
    return (lines + chance + spec95).properties(width=WIDTH, height=WIDTH, title=f"{task.upper()}: ROC")


def subgroup_heatmap(cells: pd.DataFrame, title: str) -> alt.Chart:
    """``cells``: attribute group × task with ``label`` (text), ``score`` (colour, worse is higher: the
    subgroup's metric relative to the whole set) and ``sufficient``; insufficient cells are grey."""
    base = alt.Chart(cells).encode(
        x=alt.X("task:N", title=None, axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("subgroup:N", title=None),
    )
    enough = (
        base.transform_filter("datum.sufficient")
        .mark_rect()
        .encode(
            color=alt.Color(
                "score:Q",
                title="vs whole set (worse →)",
                scale=alt.Scale(scheme="redyellowgreen", reverse=True, domain=[0.5, 1.5], clamp=True),
            ),
            tooltip=["subgroup", "task", "label", "subjects", "windows"],
        )
    )
    short = (
        base.transform_filter("!datum.sufficient")
        .mark_rect(color="#d9d9d9")
        .encode(tooltip=["subgroup", "task", "label", "subjects", "windows"])
    )
    text = base.mark_text(fontSize=11).encode(text="label:N")
    return (enough + short + text).properties(title=title, width=alt.Step(118), height=alt.Step(30))


def curves(frame: pd.DataFrame, series: str, title: str, y_title: str) -> alt.Chart | None:
    """One small chart per task (its own scale), one line per version."""
    part = frame[frame["series"] == series]
    if part.empty:
        return None
    return (
        alt.Chart(part)
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1)),
            y=alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=False)),
            color=alt.Color("version:N", scale=alt.Scale(scheme="category10")),
            tooltip=["version", "task", "epoch", alt.Tooltip("value:Q", format=".4f")],
        )
        .properties(width=230, height=150)
        .facet(facet=alt.Facet("task:N", title=None), columns=3)
        .resolve_scale(y="independent")
        .properties(title=title)
    )


def affinity(frame: pd.DataFrame, title: str) -> alt.Chart:
    """Task affinity: how a step on one task's loss changes another's (positive helps); NaN = unknown."""
    frame = frame.assign(label=frame["affinity"].map(lambda v: "unknown" if pd.isna(v) else f"{v:.3f}"))
    base = alt.Chart(frame).encode(x=alt.X("to:N", title="affected task"), y=alt.Y("from:N", title="step on"))
    cells = base.mark_rect().encode(
        color=alt.Color("affinity:Q", scale=alt.Scale(scheme="blueorange", domainMid=0)),
        tooltip=["from", "to", "label"],
    )
    return (cells + base.mark_text(fontSize=10).encode(text="label:N")).properties(title=title)


def pareto(frame: pd.DataFrame, x: str, y: str) -> alt.Chart:
    frame = frame.assign(kind=np.where(frame["chosen"], "chosen", np.where(frame["pareto"], "Pareto front",
                         np.where(frame["feasible"], "feasible", "infeasible (AF constraint)"))))  # fmt: skip
    return (
        alt.Chart(frame)
        .mark_point(filled=True, size=70)
        .encode(
            x=alt.X(f"{x}:Q", scale=alt.Scale(zero=False)),
            y=alt.Y(f"{y}:Q", scale=alt.Scale(zero=False)),
            color=alt.Color(
                "kind:N",
                scale=alt.Scale(
                    domain=["chosen", "Pareto front", "feasible", "infeasible (AF constraint)"],
                    range=["#d62728", "#1f77b4", "#9ecae1", "#bdbdbd"],
                ),
                title="",
            ),
            shape=alt.Shape("kind:N", legend=None),
            tooltip=["trial", "status", x, y],
        )
        .properties(width=WIDTH, height=320, title=f"trials: {x} against {y}")
    )
