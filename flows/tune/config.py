"""The search configuration (`ppg tune --config FILE`): a training configuration every trial starts from,
the search space, and how the search runs. Validated when loaded; a bad field is named with its value."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ppg_models.tasks import TASK_NAMES
from ppg_models.training.config import TrainConfig
from ppg_models.yaml_config import YamlConfig


class TuneConfigError(ValueError):
    """A search configuration that cannot be used; names the file and the fields."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Range(_Strict):
    low: float = Field(gt=0, allow_inf_nan=False)
    high: float = Field(gt=0, allow_inf_nan=False)
    log: bool = True

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.low > self.high:
            raise ValueError(f"low {self.low} is above high {self.high}")
        return self


class Space(_Strict):
    groupings: Literal["auto"] | Annotated[list[list[list[str]]], Field(min_length=1)] = Field(
        "auto",
        description="'auto': all-shared, all-singletons and the partitions the warm-up's task affinity"
        " ranks best; or a list of partitions of the tasks.",
    )
    candidates: int = Field(
        3, ge=0, description="Affinity-ranked partitions tried besides the two references."
    )
    min_pair_windows: int = Field(
        50, ge=1, description="Training windows labeled for both tasks below which their affinity is unknown."
    )
    balancers: dict[str, dict[str, Range | list[Any]]] = Field(
        default_factory=lambda: {"fixed": {}, "famo": {}, "pcgrad": {}},
        description="Balancer name -> its parameters to search (a range, or a list of choices).",
    )
    lr: Range = Field(default_factory=lambda: Range(low=5e-4, high=5e-3))
    widths: dict[str, Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1)]] = Field(
        default_factory=lambda: {"base": [64, 80, 96, 128]},
        description="Backbone widths by name (the stem is half the first); one of them per trial.",
    )
    backbones: list[str] = Field(default_factory=lambda: ["resnet1d"], min_length=1)

    @field_validator("balancers")
    @classmethod
    def _known_balancers(cls, balancers: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        from ppg_models.balancers import BALANCERS

        if not balancers:
            raise ValueError("at least one balancer")
        for name, params in balancers.items():
            BALANCERS.validate_name(name)
            known = BALANCERS.params_model(name).model_fields
            unknown = sorted(set(params) - set(known))
            if unknown:
                raise ValueError(
                    f"{name}: unknown parameter {unknown[0]!r} (balancer {name!r} takes:"
                    f" {', '.join(known) or 'no parameters'})"
                )
            for param, spec in params.items():  # every value a trial could draw, checked now, not in a trial
                values = [spec.low, spec.high] if isinstance(spec, Range) else spec
                if not values:
                    raise ValueError(f"{name}.{param}: an empty list of choices")
                for value in values:
                    try:
                        BALANCERS.validate_params(name, {param: value})
                    except ValueError as exc:
                        raise ValueError(f"{name}.{param}: {value!r} is not allowed ({exc})") from None
        return balancers

    @field_validator("widths")
    @classmethod
    def _some_widths(cls, widths: dict[str, list[int]]) -> dict[str, list[int]]:
        if not widths:
            raise ValueError("at least one set of backbone widths")
        return widths

    @field_validator("backbones")
    @classmethod
    def _known_backbones(cls, names: list[str]) -> list[str]:
        from ppg_models.models.backbones import BACKBONES

        return [BACKBONES.validate_name(n) for n in names]


class Search(_Strict):
    mode: Literal["multi", "single"] = Field(
        "multi",
        description="multi: Optuna's multi-objective sampler over every task's validation error;"
        " single: the mean relative error with ASHA early stopping (quick searches).",
    )
    trials: int = Field(8, ge=1)
    concurrent: int = Field(2, ge=1)
    af_floor: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] | Literal["champion"] = Field(
        0.8, description="AF validation AUROC below which a trial is infeasible; 'champion': the champion's."
    )
    warmup_epochs: int = Field(
        1, ge=0, description="Epochs of the all-shared warm-up that measures affinity."
    )
    try_first: bool = Field(
        True,
        description="Start with the affinity-ranked groupings, best first, each with every balancer; then"
        " the two references, the balancers taken in turn; the sampler chooses every later trial.",
    )
    max_failures: int = Field(2, ge=0, description="Retries of a trial that fails (e.g. a node lost).")
    cpus_per_trial: float = Field(1.0, gt=0)
    num_cpus: int | None = Field(None, ge=1, description="CPUs of the local Ray (not used with RAY_ADDRESS).")
    seed: int = 0
    storage: str | None = Field(
        None, description="Where Ray keeps the search; default PPG_HOME/tune (shared)."
    )


class TuneConfig(_Strict, YamlConfig):
    config_error: ClassVar[type[ValueError]] = TuneConfigError
    config_kind: ClassVar[str] = "search configuration"

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    base: TrainConfig
    space: Space = Field(default_factory=Space)
    search: Search = Field(default_factory=Search)

    @model_validator(mode="after")
    def _partitions(self) -> TuneConfig:
        tasks = sorted(self.base.model.tasks)
        if self.space.groupings != "auto":
            for i, partition in enumerate(self.space.groupings):
                flat = sorted(t for group in partition for t in group)
                if flat != tasks or any(not g for g in partition):
                    raise ValueError(
                        f"space.groupings[{i}]: {partition} is not a partition of the tasks {tasks}"
                    )
        if "af" not in self.base.model.tasks:
            raise ValueError(
                f"base.model.tasks must include af (the constraint); got {self.base.model.tasks}"
            )
        unknown = sorted(set(self.base.model.tasks) - set(TASK_NAMES))
        if unknown:
            raise ValueError(f"base.model.tasks: unknown {unknown}")
        cpus, per_trial = self.search.num_cpus, self.search.cpus_per_trial
        if cpus is not None and per_trial > cpus:
            raise ValueError(
                f"search.cpus_per_trial {per_trial:g} is more than search.num_cpus {cpus}:"
                " no trial could start"
            )
        return self
