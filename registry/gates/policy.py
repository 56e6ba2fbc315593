"""The gate policy: per-task clinical thresholds, non-inferiority margins and subgroup checks (YAML).

Defaults are the clinical targets of the issue: HR MAE <= 5 bpm; SpO2 Arms <= 3.5 %; RR MAE <= 3
breaths/min; SBP and DBP mean error within +-5 mmHg with SD <= 8 mmHg (ISO 81060-2); AF AUROC >= 0.95
and sensitivity >= 0.90 at 95 % specificity. AF not degraded against the champion is required; the
other non-inferiority checks are advisory. SpO2 is checked per skin tone and AF per device. A policy
that does not require non-inferiority on every safety-critical task of the catalogue is refused.
"""

from __future__ import annotations

import hashlib
import json
from typing import ClassVar, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ppg_models.evaluation.report import SUBGROUP_ATTRIBUTES
from ppg_models.tasks import TASK_NAMES, TASKS, get_task
from ppg_models.yaml_config import YamlConfig


class GatePolicyError(ValueError):
    """A gate policy that cannot be used; names the file and the fields."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Threshold(_Strict):
    metric: str
    min: float | None = Field(None, allow_inf_nan=False)  # NaN compares false: a check that means nothing
    max: float | None = Field(None, allow_inf_nan=False)
    required: bool = True

    @model_validator(mode="after")
    def _bounded(self) -> Threshold:
        if self.min is None and self.max is None:
            raise ValueError(f"threshold on {self.metric!r} needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"threshold on {self.metric!r}: min {self.min:g} is above max {self.max:g}")
        return self

    def describe(self) -> str:
        if self.min is not None and self.max is not None:
            return f"{self.min:g} <= {self.metric} <= {self.max:g}"
        return f"{self.metric} >= {self.min:g}" if self.min is not None else f"{self.metric} <= {self.max:g}"


class NonInferiority(_Strict):
    margin: float = Field(
        ge=0, allow_inf_nan=False, description="Largest worsening of the primary metric tolerated."
    )
    required: bool = False


class Evidence(NamedTuple):
    """The least evidence a check needs: labeled windows, and distinct subjects they come from."""

    windows: int
    subjects: int


class TaskGate(_Strict):
    thresholds: list[Threshold] = Field(default_factory=list)
    non_inferiority: NonInferiority | None = None
    min_windows: int = Field(30, ge=1, description="Fewer labeled test windows: insufficient evidence.")
    min_subjects: int = Field(10, ge=2, description="Fewer subjects: insufficient (never one subject).")

    @property
    def evidence(self) -> Evidence:
        return Evidence(self.min_windows, self.min_subjects)


class SubgroupGate(_Strict):
    attribute: str
    tasks: list[str]
    min_windows: int = Field(30, ge=1)
    min_subjects: int = Field(5, ge=2)
    thresholds: bool = True
    non_inferiority: bool = True

    @property
    def evidence(self) -> Evidence:
        return Evidence(self.min_windows, self.min_subjects)

    @field_validator("attribute")
    @classmethod
    def _known_attribute(cls, value: str) -> str:
        if value not in SUBGROUP_ATTRIBUTES:
            raise ValueError(f"unknown subgroup attribute {value!r}; known: {list(SUBGROUP_ATTRIBUTES)}")
        return value


def _default_tasks() -> dict[str, TaskGate]:
    bp = [Threshold(metric="mean_error", min=-5, max=5), Threshold(metric="sd_error", max=8)]
    return {
        "hr": TaskGate(
            thresholds=[Threshold(metric="mae", max=5)], non_inferiority=NonInferiority(margin=0.5)
        ),
        "spo2": TaskGate(
            thresholds=[Threshold(metric="arms", max=3.5)], non_inferiority=NonInferiority(margin=0.25)
        ),
        "rr": TaskGate(
            thresholds=[Threshold(metric="mae", max=3)], non_inferiority=NonInferiority(margin=0.5)
        ),
        "sbp": TaskGate(thresholds=bp, non_inferiority=NonInferiority(margin=1.0)),
        "dbp": TaskGate(thresholds=bp, non_inferiority=NonInferiority(margin=1.0)),
        "af": TaskGate(
            thresholds=[Threshold(metric="auroc", min=0.95), Threshold(metric="sens_at_spec95", min=0.90)],
            non_inferiority=NonInferiority(margin=0.01, required=True),
        ),
    }


def _default_subgroups() -> list[SubgroupGate]:
    return [
        SubgroupGate(attribute="skin_tone", tasks=["spo2"]),
        SubgroupGate(attribute="device", tasks=["af"]),
    ]


class GatePolicy(_Strict, YamlConfig):
    config_error: ClassVar[type[ValueError]] = GatePolicyError
    config_kind: ClassVar[str] = "gate policy"

    tasks: dict[str, TaskGate] = Field(default_factory=_default_tasks)
    subgroups: list[SubgroupGate] = Field(default_factory=_default_subgroups)
    insufficient_blocks: bool = Field(True, description="Too little evidence blocks promotion.")
    resamples: int = Field(1000, ge=100, description="Paired bootstrap resamples over subjects.")
    seed: int = 0

    @model_validator(mode="after")
    def _known_metrics(self) -> GatePolicy:
        for name, gate in self.tasks.items():
            if name not in TASK_NAMES:
                raise ValueError(f"unknown task {name!r}; known: {list(TASK_NAMES)}")
            spec = get_task(name)
            for t in gate.thresholds:
                if t.metric not in spec.metrics:
                    raise ValueError(f"task {name!r} has no metric {t.metric!r}; known: {list(spec.metrics)}")
        for spec in TASKS:
            gate = self.tasks.get(spec.name)
            if spec.safety_critical and not (gate and gate.non_inferiority and gate.non_inferiority.required):
                raise ValueError(
                    f"task {spec.name!r} is safety-critical: the policy must gate it with required"
                    f" non-inferiority (tasks.{spec.name}.non_inferiority.required: true)"
                )
        for sub in self.subgroups:
            unknown = sorted(set(sub.tasks) - set(self.tasks))
            if unknown:
                raise ValueError(f"subgroup check on {sub.attribute!r} names tasks without a gate: {unknown}")
        return self

    def sha256(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()
