"""Score DSP baselines against labels, per task and per motion level."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from ppg_models.baselines.run import BASELINE_TASKS, estimate_vitals
from ppg_models.data.schema import MOTION_LEVELS
from ppg_models.evaluation.metrics import auroc, mae
from ppg_models.tasks import get_task


@dataclass(frozen=True)
class BaselineScore:
    task: str
    motion: str  # a motion level, or "all"
    metric: str
    value: float
    windows: int  # windows with both a label and an estimate
    unit: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _score(task: str, labels: np.ndarray, estimates: np.ndarray) -> tuple[str, float, int]:
    spec = get_task(task)
    paired = ~(np.isnan(labels) | np.isnan(estimates))
    if spec.kind == "binary":
        return "auroc", auroc(labels, estimates), int(paired.sum())
    return "mae", mae(labels, estimates), int(paired.sum())


def score_baselines(tables: list[pa.Table]) -> tuple[list[BaselineScore], pd.DataFrame]:
    """Scores for every baseline task and motion level (plus "all"), and the per-window estimates."""
    frames = []
    for table in tables:
        est = estimate_vitals(table)
        labels = table.select([*BASELINE_TASKS, "motion"]).to_pandas().set_index(est.index)
        frames.append(est.add_prefix("est_").join(labels))
    joined = pd.concat(frames)
    motion = joined["motion"].fillna("unknown").to_numpy()
    scores = []
    for task in BASELINE_TASKS:
        labels = joined[task].to_numpy(dtype=float, na_value=np.nan)
        est = joined[f"est_{task}"].to_numpy(dtype=float)
        for level in ("all", *MOTION_LEVELS):
            sel = np.ones(len(joined), bool) if level == "all" else motion == level
            metric, value, n = _score(task, labels[sel], est[sel])
            if n:
                scores.append(BaselineScore(task, level, metric, value, n, get_task(task).unit))
    return scores, joined


def markdown_table(scores: list[BaselineScore]) -> str:
    """Tasks as rows, motion levels as columns: 'value (n)'."""
    levels = ("all", *MOTION_LEVELS)
    lines = ["| task | metric | " + " | ".join(levels) + " |", "|---|---|" + "---|" * len(levels)]
    for task in BASELINE_TASKS:
        row = {s.motion: s for s in scores if s.task == task}
        if not row:
            continue
        first = next(iter(row.values()))
        unit = f" ({first.unit})" if first.unit and first.metric != "auroc" else ""
        cells = [f"{row[m].value:.3g} (n={row[m].windows})" if m in row else "–" for m in levels]
        lines.append(f"| {task} | {first.metric}{unit} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
