"""Typed training configuration, loaded from YAML and validated with errors that name the field."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from ppg_models.tasks import TASK_NAMES
from ppg_models.yaml_config import YamlConfig


class ConfigError(ValueError):
    """A configuration file that cannot be used; names the file and the fields."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    dataset: str | None = Field(
        None, description="A lake dataset version (ds-..., or 'latest'), instead of paths; split by subject."
    )
    paths: list[str] = Field(default_factory=list, description="Batch files or directories.")
    val_paths: list[str] = Field(default_factory=list, description="Explicit validation batches (optional).")
    test_paths: list[str] = Field(default_factory=list, description="Explicit test batches (optional).")
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    balance_sources: bool = Field(True, description="Draw windows so that every source is seen equally.")
    augment: float = Field(
        0.4, ge=0, le=1,
        description="Share of training windows replaced by a random device-export version of themselves"
        " (AC-coupled, rescaled, inverted, wander, other rates, quantised, one channel).",
    )  # fmt: skip
    channel_drop: float = Field(
        0.2, ge=0, le=1,
        description="Share of training windows reduced, afresh at every step, to the one channel their pulse"
        " comes from (as IR-only or green-only exports deliver them); SpO2 is not trained on those.",
    )  # fmt: skip

    @model_validator(mode="after")
    def _one_origin(self) -> DataConfig:
        if bool(self.dataset) == bool(self.paths):
            raise ValueError("give data.dataset (a lake version) or data.paths (batch files): one of them")
        if self.dataset and (self.val_paths or self.test_paths):
            raise ValueError("data.val_paths/test_paths go with data.paths; a dataset is split by subject")
        return self


class ModelConfig(_Strict):
    tasks: list[str] = Field(default_factory=lambda: list(TASK_NAMES), min_length=1)
    groups: list[list[str]] | None = Field(None, description="Partition of tasks; default: one group.")
    backbone: str = "resnet1d"
    backbone_params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("tasks")
    @classmethod
    def _known(cls, tasks: list[str]) -> list[str]:
        unknown = sorted(set(tasks) - set(TASK_NAMES))
        if unknown:
            raise ValueError(f"unknown tasks {unknown}; known tasks: {', '.join(TASK_NAMES)}")
        twice = sorted({t for t in tasks if tasks.count(t) > 1})
        if twice:
            raise ValueError(f"tasks listed twice: {twice}")
        return tasks

    @field_validator("backbone")
    @classmethod
    def _known_backbone(cls, name: str) -> str:
        from ppg_models.models.backbones import BACKBONES

        return BACKBONES.validate_name(name)

    @field_validator("backbone_params")
    @classmethod
    def _backbone_params(cls, params: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        from ppg_models.models.backbones import BACKBONES

        name = info.data.get("backbone")
        return params if name is None else BACKBONES.validate_params(name, params)

    def resolved_groups(self) -> list[list[str]]:
        return self.groups if self.groups is not None else [list(self.tasks)]


class BalancerConfig(_Strict):
    name: str = "fixed"
    params: dict[str, Any] = Field(default_factory=dict)
    protected: str | None = Field(None, description="Task whose gradient is never altered (e.g. af).")
    protected_params: dict[str, Any] = Field(
        default_factory=dict,
        description="reference (a validation loss), slack, penalty, max_weight, constrain_selection",
    )

    @field_validator("name")
    @classmethod
    def _known_balancer(cls, name: str) -> str:
        from ppg_models.balancers import BALANCERS

        return BALANCERS.validate_name(name)

    @field_validator("params")
    @classmethod
    def _balancer_params(cls, params: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        from ppg_models.balancers import BALANCERS

        name = info.data.get("name")
        return params if name is None else BALANCERS.validate_params(name, params)

    @field_validator("protected_params")
    @classmethod
    def _protection_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        from ppg_models.balancers.protected import ProtectedTask
        from ppg_models.registry_by_name import check_params, params_model

        return check_params(params_model(ProtectedTask, 3), params, "the protected-task wrapper")


class HeadTuningConfig(_Strict):
    """After training: each head fine-tuned on its group's frozen features, with its own early stopping
    (``ppg_models.training.head_tuning``). 0 epochs: off."""

    epochs: int = Field(0, ge=0, description="Most epochs of head fine-tuning (0: off).")
    lr: float = Field(5e-4, gt=0, allow_inf_nan=False)
    patience: int = Field(3, ge=1)
    epoch_windows: int | None = Field(None, ge=2, description="Windows per epoch (default: as training).")


class OptimConfig(_Strict):
    epochs: int = Field(20, ge=1)
    batch_size: int = Field(64, ge=2)
    lr: float = Field(2e-3, gt=0, allow_inf_nan=False)
    weight_decay: float = Field(1e-2, ge=0)
    warmup_epochs: float = Field(1.0, ge=0)
    patience: int = Field(5, ge=1, description="Epochs without validation improvement before stopping.")
    epoch_windows: int | None = Field(
        None, ge=2, description="Windows drawn per epoch (default: as many as the training set holds)."
    )
    grad_clip: float = Field(5.0, gt=0)
    head_tuning: HeadTuningConfig = Field(default_factory=HeadTuningConfig)


class TrainConfig(_Strict, YamlConfig):
    config_error: ClassVar[type[ValueError]] = ConfigError
    config_kind: ClassVar[str] = "training configuration"

    data: DataConfig
    model: ModelConfig = Field(default_factory=ModelConfig)
    balancer: BalancerConfig = Field(default_factory=BalancerConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    seed: int = 0
    threads: int = Field(2, ge=1, description="CPU threads for PyTorch.")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    affinity_every: int = Field(0, ge=0, description="Measure task affinity every N steps (0: off).")
    bootstrap: int = Field(200, ge=10, description="Bootstrap resamples for confidence intervals.")
    out_dir: str | None = Field(None, description="Where to write the run; default PPG_HOME/runs/<name>.")
    name: str | None = None

    @model_validator(mode="after")
    def _groups_match_tasks(self) -> TrainConfig:
        groups = self.model.resolved_groups()
        flat = sorted(t for g in groups for t in g)
        if flat != sorted(self.model.tasks):
            raise ValueError(f"model.groups {groups} must partition model.tasks {self.model.tasks}")
        if self.balancer.protected and self.balancer.protected not in self.model.tasks:
            raise ValueError(f"balancer.protected {self.balancer.protected!r} is not one of model.tasks")
        return self
