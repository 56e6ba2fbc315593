"""The retraining configuration (`ppg retrain --config FILE`, `ppg serve --config FILE`): when to retrain,
how, who the run acts as, how long it waits for an approval, and the schedules `ppg serve` runs.
Validated when loaded; a bad field is named with its value."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ppg_models.ingest.policy import DriftPolicy
from ppg_models.training.config import TrainConfig
from ppg_models.yaml_config import YamlConfig


class RetrainConfigError(ValueError):
    """A retraining configuration that cannot be used; names the file and the fields."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Schedules(_Strict):
    ingest_every_s: int = Field(900, ge=10, description="Seconds between ingest runs (`ingest-batches`).")
    retrain_cron: str = Field("0 3 * * *", description="Cron of the `retrain` deployment (UTC).")
    retrain_every_s: int | None = Field(
        None, ge=10, description="Seconds between retrain runs instead of the cron (tests, demos)."
    )

    @field_validator("retrain_cron")
    @classmethod
    def _valid_cron(cls, cron: str) -> str:
        """Checked when the file is loaded, not when `ppg retrain serve` has started its server."""
        from prefect.client.schemas.schedules import CronSchedule
        from pydantic import ValidationError

        try:
            CronSchedule(cron=cron)
        except ValidationError:
            raise ValueError(f"not a cron expression (minute hour day month weekday): {cron!r}") from None
        return cron


class RetrainConfig(_Strict, YamlConfig):
    config_error: ClassVar[type[ValueError]] = RetrainConfigError
    config_kind: ClassVar[str] = "retraining configuration"

    ingest: bool = Field(True, description="Ingest waiting batches first (the `ingest-batches` flow).")
    min_new_windows: int = Field(
        1000, ge=1, description="Accepted windows added since the champion's dataset that call for a retrain."
    )
    drift: DriftPolicy | None = Field(
        default_factory=DriftPolicy,
        description="Label drift limits against the champion's dataset; null: off.",
    )
    force: bool = Field(False, description="Retrain on every run, whatever the lake says (demos, tests).")
    how: Literal["champion", "search"] = Field(
        "champion",
        description="champion: retrain the champion's configuration on the newest dataset; search: run the"
        " search in `search_config` (its budget) and retrain its choice.",
    )
    train: TrainConfig | None = Field(
        None, description="The configuration trained when there is no champion yet (how: champion)."
    )
    search_config: str | None = Field(None, description="A `ppg tune` configuration file (how: search).")
    trainer: str = Field(
        "retrain-bot", description="The registry account (role trainer) the run registers as."
    )
    approval_timeout_s: int = Field(
        7 * 24 * 3600, ge=1, description="How long a run waits for a person; then it ends 'not approved'."
    )
    approval_poll_s: int = Field(
        30, ge=1, description="How often a waiting run looks for a decision made in the registry."
    )
    schedules: Schedules = Field(default_factory=Schedules)

    @model_validator(mode="after")
    def _how(self) -> RetrainConfig:
        if self.how == "search" and not self.search_config:
            raise ValueError("how: search needs search_config (a `ppg tune` configuration file)")
        if self.search_config:  # a scheduled run at 3 am is no time to find the file missing or bad
            from flows.tune.config import TuneConfig

            path = Path(self.search_config).expanduser().resolve()
            if not path.is_file():
                raise ValueError(f"search_config: no such file {self.search_config!r} (from {Path.cwd()})")
            TuneConfig.from_yaml(path)  # its own error names the file and the field
            self.search_config = str(path)  # the deployment runs from wherever it was served
        return self
