"""Strategies registered by name: backbones, balancers. The name is also the Ray Tune choice, the MLflow
parameter and the dashboard filter, so it is the only identifier a strategy has.

A strategy declares its parameters, typed, in its constructor's signature (after the arguments every
strategy of its kind takes, e.g. ``tasks``); ranges go in ``Annotated[float, Field(gt=0)]``.
``validate_params`` checks a configuration's name and parameters against that signature when the
configuration is loaded, so a misspelled name or a bad value is one error naming the field, long
before any data is read.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import cache
from typing import Any, Generic, TypeVar, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

T = TypeVar("T")


class NamedRegistry(Generic[T]):
    def __init__(self, kind: str, fixed_args: int) -> None:
        """``fixed_args``: constructor arguments every strategy of this kind takes before its own."""
        self.kind = kind
        self.fixed_args = fixed_args
        self._items: dict[str, type[T]] = {}

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        def decorate(cls: type[T]) -> type[T]:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            cls.name = name  # type: ignore[attr-defined]
            self._items[name] = cls
            return cls

        return decorate

    def get(self, name: str) -> type[T]:
        try:
            return self._items[name]
        except KeyError:
            raise KeyError(f"unknown {self.kind} {name!r}; known: {', '.join(sorted(self._items))}") from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def params_model(self, name: str) -> type[BaseModel]:
        """The typed parameters of strategy ``name``, from its constructor's signature."""
        return params_model(self.get(name), self.fixed_args)

    def validate_name(self, name: str) -> str:
        """``name`` if registered, else ValueError listing the known ones (for configuration fields)."""
        if name not in self._items:
            raise ValueError(f"unknown {self.kind} {name!r}; known: {', '.join(sorted(self._items))}")
        return name

    def validate_params(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` checked (and coerced) for strategy ``name``; ValueError names the bad parameter."""
        return check_params(self.params_model(self.validate_name(name)), params, f"{self.kind} {name!r}")


@cache
def params_model(cls: type, fixed_args: int) -> type[BaseModel]:
    """A pydantic model of ``cls.__init__``'s keyword parameters after ``fixed_args`` positional ones."""
    signature = inspect.signature(cls.__init__)
    hints = get_type_hints(cls.__init__, include_extras=True)
    own = list(signature.parameters.values())[1 + fixed_args :]  # after self and the fixed arguments
    fields: dict[str, Any] = {}
    for p in own:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        default = ... if p.default is p.empty else p.default
        fields[p.name] = (hints.get(p.name, Any), default)
    config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    return create_model(f"{cls.__name__}Params", __config__=config, **fields)


def check_params(model: type[BaseModel], params: dict[str, Any], what: str) -> dict[str, Any]:
    """Validate ``params`` with ``model``; only the given keys come back (defaults stay implicit)."""
    try:
        checked = model.model_validate(params)
    except ValidationError as exc:
        takes = ", ".join(model.model_fields) or "no parameters"
        problems = "; ".join(_describe(e) for e in exc.errors())
        raise ValueError(f"{problems} ({what} takes: {takes})") from None
    return {k: v for k, v in checked.model_dump().items() if k in params}


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(map(str, error["loc"])) or "(parameters)"
    if error["type"] == "extra_forbidden":
        return f"unknown parameter {where!r}"
    return f"{where}: {error['msg']} (got {error.get('input')!r})"
