"""Typed configuration read from YAML: one loader and one error format for every stage's settings.

A model class inherits ``YamlConfig`` and names its error type and what it is; ``from_yaml`` and
``from_dict`` then refuse a missing file, bad YAML, a non-mapping or an invalid field with one message
that names the file, each bad field and the value it had.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Self

import yaml
from pydantic import BaseModel, ValidationError


def describe_errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']} (got {e.get('input')!r})"
        for e in exc.errors()
    )


class YamlConfig(BaseModel):
    config_error: ClassVar[type[ValueError]] = ValueError
    config_kind: ClassVar[str] = "configuration"

    @classmethod
    def from_yaml(cls, path: str | Path) -> Self:
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise cls.config_error(f"{path}: no such file") from None
        except OSError as exc:
            raise cls.config_error(f"{path}: cannot read the {cls.config_kind} ({exc})") from None
        except yaml.YAMLError as exc:
            raise cls.config_error(f"{path}: not valid YAML ({exc})") from None
        if raw is None:
            raw = {}  # an empty file: every default
        if not isinstance(raw, dict):
            raise cls.config_error(f"{path}: expected a mapping at the top level")
        return cls.from_dict(raw, str(path))

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "<config>") -> Self:
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise cls.config_error(f"{source}: invalid {cls.config_kind}: {describe_errors(exc)}") from None
