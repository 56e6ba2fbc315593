"""What a model is, as data: tasks, their partition into groups, backbone, and label scaling.
Saved beside the weights so a model can be rebuilt without pickled code."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ppg_models.models.inputs import BASE_INPUTS, INPUT_CHANNELS, MODEL_FS, WINDOW_SAMPLES
from ppg_models.tasks import TASK_NAMES, get_task


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    groups: list[list[str]] = Field(description="Partition of the tasks; each group has its own backbone.")
    backbone: str = "resnet1d"
    backbone_params: dict[str, Any] = Field(default_factory=dict)
    label_mean: dict[str, float] = Field(default_factory=dict, description="Regression label scaling.")
    label_std: dict[str, float] = Field(default_factory=dict)
    input_channels: list[str] = Field(
        default_factory=lambda: list(INPUT_CHANNELS),
        description="The inputs the model reads: the first channels of models.inputs.INPUT_CHANNELS (a"
        " bundle saved before a channel was added keeps the ones it was trained on).",
    )
    fs: float = MODEL_FS
    samples: int = WINDOW_SAMPLES
    hr_counted_rate: bool = Field(
        True,
        description="The HR head takes the counted beat rate where its spectrum agrees with it; bundles"
        " saved before this field read the spectral rate alone, as they were trained and gated.",
    )

    @model_validator(mode="after")
    def _partition(self) -> ModelSpec:
        flat = [t for g in self.groups for t in g]
        if not flat:
            raise ValueError("groups: at least one task is needed")
        if any(not g for g in self.groups):
            raise ValueError("groups: a group is empty")
        repeated = sorted({t for t in flat if flat.count(t) > 1})
        if repeated:
            raise ValueError(
                f"groups: tasks {repeated} appear in more than one group; groups must partition the tasks"
            )
        unknown = sorted(set(flat) - set(TASK_NAMES))
        if unknown:
            raise ValueError(f"groups: unknown tasks {unknown}; known tasks: {', '.join(TASK_NAMES)}")
        n = len(self.input_channels)
        if n < len(BASE_INPUTS) or list(self.input_channels) != list(INPUT_CHANNELS[:n]):
            raise ValueError(
                f"input_channels: {self.input_channels} are not inputs this release prepares (it prepares"
                f" {list(INPUT_CHANNELS)}, and a model reads the first {len(BASE_INPUTS)} or more of them)"
            )
        return self

    @property
    def tasks(self) -> list[str]:
        """The model's tasks in catalogue order."""
        flat = {t for g in self.groups for t in g}
        return [t for t in TASK_NAMES if t in flat]

    def scaling(self, task: str) -> tuple[float, float]:
        if get_task(task).kind != "regression":
            return 0.0, 1.0
        return self.label_mean.get(task, 0.0), self.label_std.get(task, 1.0)
