"""The ingest policy: what a batch must satisfy and what happens when it does not (YAML, validated).

Label ranges come from the task catalogue, not from here; the policy holds the limits that are a
site's choice: supported sampling rates, signal-quality limits, how many bad windows may be dropped,
which tasks each source claims to label, drift limits and the largest file accepted.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ppg_models.data.quality_names import FEATURES
from ppg_models.data.schema import MIN_WINDOW_SECONDS
from ppg_models.tasks import TASK_NAMES
from ppg_models.yaml_config import YamlConfig


class PolicyError(ValueError):
    """An ingest policy that cannot be used; names the file and the fields."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limit(_Strict):
    min: float | None = Field(None, allow_inf_nan=False)  # NaN compared false and disabled the check
    max: float | None = Field(None, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> Limit:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class DriftPolicy(_Strict):
    psi_limit: float = Field(0.25, gt=0, description="Population stability index above which it drifted.")
    ks_p_value: float = Field(1e-6, gt=0, lt=1, description="Two-sample KS p-value below which it drifted.")
    min_reference_windows: int = Field(500, ge=10, description="Accepted windows of the source needed first.")
    action: Literal["warn", "quarantine"] = "warn"


#: The sources a deployment accepts and the tasks each labels. A site lists its own in its policy file;
#: these defaults are the three kinds of source the platform ships for (and the simulator imitates).
DEFAULT_SOURCES = {
    "icu": ["hr", "spo2", "rr", "sbp", "dbp"],
    "wearable": ["hr", "af"],
    "sleep-lab": ["hr", "rr", "spo2"],
}


DEFAULT_QUALITY = {
    "missing_frac": Limit(max=0.2),
    "flat_frac": Limit(max=0.6),
    "clipped_frac": Limit(max=0.6),
    "perfusion_index": Limit(min=0.02, max=50.0),
    "cardiac_power_ratio": Limit(min=0.03),
    "pulse_snr_db": Limit(min=3.0),  # white noise: 0 +- 0.6 dB; benchmarks/results/noise_floor.md
}


class IngestPolicy(_Strict, YamlConfig):
    config_error: ClassVar[type[ValueError]] = PolicyError
    config_kind: ClassVar[str] = "ingest policy"

    sampling_rates: list[Annotated[float, Field(gt=0, allow_inf_nan=False)]] = Field(
        [100.0, 125.0, 250.0], min_length=1
    )
    window_seconds: float = Field(10.0, ge=MIN_WINDOW_SECONDS, allow_inf_nan=False)
    max_file_bytes: int = Field(4 * 2**30, gt=0)
    settle_seconds: float = Field(
        30.0, ge=0, description="An unreadable file younger than this may still be uploading: it waits."
    )
    chunk_windows: int = Field(4096, ge=64, description="Windows read and checked at a time (bounds memory).")
    quality: dict[str, Limit] = Field(default_factory=lambda: dict(DEFAULT_QUALITY))
    on_bad_windows: Literal["drop", "quarantine"] = "drop"
    max_drop_fraction: float = Field(0.05, ge=0, le=1, description="Largest share of windows dropped.")
    min_drop_allowance: int = Field(
        4, ge=0, description="A batch may always drop this many windows: in a small batch a few are chance."
    )
    min_labeled_fraction: float = Field(0.9, ge=0, le=1, description="Per claimed task, share labeled.")
    near_duplicates: Literal["warn", "drop"] = Field(
        "warn", description="A subject's window at a start time already seen under another id."
    )
    sources: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_SOURCES.items()},
        min_length=1,  # the whole list of accepted sources: none would quarantine every file
    )
    drift: DriftPolicy = DriftPolicy()

    @field_validator("quality", mode="before")
    @classmethod
    def _merge_with_defaults(cls, quality: object) -> object:
        """A policy names only the limits it changes, field by field; ``null`` removes a default limit."""
        if not isinstance(quality, dict):
            return quality
        merged: dict[str, object] = {k: v.model_dump() for k, v in DEFAULT_QUALITY.items()}
        for name, given in quality.items():
            if given is None:
                merged.pop(name, None)
            elif isinstance(given, dict) and isinstance(merged.get(name), dict):
                merged[name] = {**merged[name], **given}  # type: ignore[dict-item]
            else:
                merged[name] = given
        return merged

    @field_validator("quality")
    @classmethod
    def _known_features(cls, quality: dict[str, Limit]) -> dict[str, Limit]:
        unknown = sorted(set(quality) - set(FEATURES))
        if unknown:
            raise ValueError(f"unknown quality features {unknown}; known: {list(FEATURES)}")
        return quality

    @field_validator("sources")
    @classmethod
    def _known_tasks(cls, sources: dict[str, list[str]]) -> dict[str, list[str]]:
        for source, tasks in sources.items():
            unknown = sorted(set(tasks) - set(TASK_NAMES))
            if unknown:
                raise ValueError(f"source {source!r} claims unknown tasks {unknown}; known: {TASK_NAMES}")
        return sources
