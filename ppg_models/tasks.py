"""The task catalogue: one row per vital sign the platform estimates.

Everything task-specific (label columns, validation ranges, heads, losses, metrics, gates, dashboard
columns) is derived from ``TASKS``. Adding a task means adding one ``TaskSpec`` here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np

TaskKind = Literal["regression", "binary"]

#: Every PPG channel the batch format knows, in the order models stack them.
CHANNELS: tuple[str, ...] = ("red", "ir", "green")
#: Channel used when a single pulse signal is needed (timing tasks, baselines), best first.
PULSE_PREFERENCE: tuple[str, ...] = ("ir", "green", "red")


@dataclass(frozen=True)
class TaskSpec:
    """What the platform needs to know about one task."""

    name: str
    kind: TaskKind
    unit: str
    valid_range: tuple[float, float]  # physiological range: labels outside it are invalid
    loss: str  # "smooth_l1" | "bce"
    primary_metric: str  # the metric that ranks models and that non-inferiority gates compare
    higher_is_better: bool
    needs_all: tuple[str, ...] = ()  # channels that must all be present to estimate this task
    needs_any: tuple[str, ...] = ()  # at least one of these channels must be present
    needs_level: tuple[str, ...] = ()  # channels whose physical DC level the task needs (ratio of ratios)
    metrics: tuple[str, ...] = ()  # reported with confidence intervals (ppg_models.evaluation.metrics)
    head: str = ""  # tasks sharing a head name are predicted by one head (SBP and DBP)
    description: str = ""
    safety_critical: bool = False  # every gate policy must require non-inferiority on it

    def __post_init__(self) -> None:
        lo, hi = self.valid_range
        if not lo < hi:
            raise ValueError(f"task {self.name!r}: valid_range {self.valid_range} is empty")
        unknown = set(self.needs_all) | set(self.needs_any)
        if self.primary_metric not in self.metrics:
            raise ValueError(
                f"task {self.name!r}: primary metric {self.primary_metric!r} is not in {self.metrics}"
            )
        if unknown - set(CHANNELS):
            raise ValueError(f"task {self.name!r}: unknown channels {sorted(unknown - set(CHANNELS))}")

    @property
    def head_name(self) -> str:
        return self.head or self.name

    def can_estimate(self, present: Iterable[str]) -> bool:
        """True when the channels in ``present`` are enough to estimate this task."""
        have = set(present)
        if not set(self.needs_all) <= have:
            return False
        return not self.needs_any or bool(have & set(self.needs_any))

    def estimable(self, present: np.ndarray, level: np.ndarray) -> np.ndarray:
        """Per window, whether its channels suffice: ``present`` and ``level`` (the channel's level is
        physical, not an AC-coupled or rescaled export) are (windows, len(CHANNELS)) bool."""
        ok = present[:, [CHANNELS.index(c) for c in self.needs_all]].all(axis=1)
        ok &= level[:, [CHANNELS.index(c) for c in self.needs_level]].all(axis=1)
        if self.needs_any:
            ok &= present[:, [CHANNELS.index(c) for c in self.needs_any]].any(axis=1)
        return ok


_ANY_PPG = CHANNELS

TASKS: tuple[TaskSpec, ...] = (
    TaskSpec(
        name="hr",
        kind="regression",
        unit="bpm",
        valid_range=(25.0, 250.0),
        loss="smooth_l1",
        primary_metric="mae",
        higher_is_better=False,
        needs_any=_ANY_PPG,
        metrics=("mae", "rmse", "within_5bpm_or_10pct"),
        description="Heart rate, mean over the beats in the window",
    ),
    TaskSpec(
        name="spo2",
        kind="regression",
        unit="%",
        valid_range=(50.0, 100.0),
        loss="smooth_l1",
        primary_metric="arms",
        higher_is_better=False,
        needs_all=("red", "ir"),
        needs_level=("red", "ir"),
        metrics=("mae", "arms", "bias"),
        description="Arterial oxygen saturation (red and infrared with their DC levels: ratio of ratios)",
    ),
    TaskSpec(
        name="rr",
        kind="regression",
        unit="breaths/min",
        valid_range=(4.0, 60.0),
        loss="smooth_l1",
        primary_metric="mae",
        higher_is_better=False,
        needs_any=_ANY_PPG,
        metrics=("mae", "rmse"),
        description="Respiratory rate over the window",
    ),
    TaskSpec(
        name="sbp",
        kind="regression",
        unit="mmHg",
        valid_range=(60.0, 250.0),
        loss="smooth_l1",
        primary_metric="mae",
        higher_is_better=False,
        needs_any=_ANY_PPG,
        head="bp",
        metrics=("mean_error", "sd_error", "mae"),
        description="Systolic blood pressure",
    ),
    TaskSpec(
        name="dbp",
        kind="regression",
        unit="mmHg",
        valid_range=(30.0, 150.0),
        loss="smooth_l1",
        primary_metric="mae",
        higher_is_better=False,
        needs_any=_ANY_PPG,
        head="bp",
        metrics=("mean_error", "sd_error", "mae"),
        description="Diastolic blood pressure",
    ),
    TaskSpec(
        name="af",
        kind="binary",
        unit="",
        valid_range=(0.0, 1.0),
        loss="bce",
        primary_metric="auroc",
        higher_is_better=True,
        needs_any=_ANY_PPG,
        metrics=("auroc", "sens_at_spec95", "sens_at_spec97", "f1", "ece"),
        description="Atrial fibrillation in the window (1) or not (0); safety-critical",
        safety_critical=True,
    ),
)

#: Label pairs that must be strictly ordered when both are present: (greater, lesser).
ORDERED_LABELS: tuple[tuple[str, str], ...] = (("sbp", "dbp"),)

TASK_NAMES: tuple[str, ...] = tuple(t.name for t in TASKS)
_BY_NAME = {t.name: t for t in TASKS}


def unsupported(tasks: Iterable[str], present: np.ndarray, level: np.ndarray) -> dict[str, np.ndarray]:
    """Per task, the windows whose channels (``present``, ``level``: see ``TaskSpec.estimable``) do not
    support its label or estimate."""
    return {t: ~get_task(t).estimable(present, level) for t in tasks}


def get_task(name: str) -> TaskSpec:
    """The catalogue row for ``name``; an unknown name raises an error listing the known ones."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known tasks: {', '.join(TASK_NAMES)}") from None
