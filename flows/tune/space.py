"""What a search tries: the candidate groupings (all-shared and all-singletons as references, plus the
partitions a short warm-up's task affinity ranks best, only where that affinity is trusted), the
conditional search space (a balancer's parameters only when that balancer is chosen), and the training
configuration of one trial."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from flows.tune.config import Range, Space, TuneConfig
from ppg_models.training.config import TrainConfig
from ppg_models.training.data import WindowSet
from ppg_models.training.grouping import co_labeled, rank_known_partitions, trusted_affinity


def label(partition: list[list[str]]) -> str:
    """A partition as text: groups joined by '|', tasks by '+' ("hr+spo2|af")."""
    return "|".join("+".join(g) for g in partition)


def parse(text: str) -> list[list[str]]:
    return [g.split("+") for g in text.split("|")]


def warmup_affinity(config: TuneConfig, parts: dict[str, WindowSet]) -> dict[str, Any]:
    """Task affinity (TAG) measured in a short all-shared run, trusted only where enough training windows
    carry both labels; NaN marks the pairs whose affinity is unknown."""
    from ppg_models.training.trainer import train

    tasks = list(config.base.model.tasks)
    pair_windows = co_labeled(parts["train"].labels, tasks)
    if config.search.warmup_epochs == 0:
        measured = np.full((len(tasks), len(tasks)), np.nan)
    else:
        warm = config.base.model_copy(
            update={
                "model": config.base.model.model_copy(update={"groups": None}),
                "optim": config.base.optim.model_copy(update={"epochs": config.search.warmup_epochs}),
                "affinity_every": 5,
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            measured = train(warm, parts["train"], parts["val"], Path(tmp), resume=False).affinity
    trusted = trusted_affinity(measured, pair_windows, config.space.min_pair_windows)
    return {"tasks": tasks, "affinity": trusted, "pair_windows": pair_windows}


def candidate_groupings(config: TuneConfig, affinity: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every grouping the search may choose, with where it came from and its affinity score; a last entry
    without a grouping counts the partitions set aside because they group a pair of unknown affinity."""
    tasks = list(config.base.model.tasks)
    if config.space.groupings != "auto":
        return [{"grouping": label(p), "origin": "config", "score": None} for p in config.space.groupings]
    out = [
        {"grouping": label([tasks]), "origin": "reference: all shared", "score": None},
        {"grouping": label([[t] for t in tasks]), "origin": "reference: all singletons", "score": None},
    ]
    if affinity is not None:
        ranked, unknown = rank_known_partitions(affinity["affinity"], tasks, config.space.candidates)
        out += [{"grouping": label(p), "origin": "affinity", "score": round(s, 5)} for p, s in ranked]
        if unknown:
            out.append(
                {
                    "grouping": None,
                    "origin": f"{unknown} partitions set aside: unknown affinity",
                    "score": None,
                }
            )
    return out


def first_points(candidates: list[dict[str, Any]], balancers: list[str]) -> list[dict[str, str]]:
    """The trials a search starts with: each affinity-ranked grouping, best first, with every balancer in
    turn (which balancer suits a grouping is as uncertain as the grouping itself, and a grouping judged
    on one balancer is judged half-way); then the references, the balancers taken in turn. Parameters
    left out (the learning rate, a balancer's own) are sampled as usual."""
    ranked = [c["grouping"] for c in candidates if c["grouping"] and c["origin"] == "affinity"]
    references = [c["grouping"] for c in candidates if c["grouping"] and c["origin"] != "affinity"]
    points = [{"grouping": g, "balancer": b} for g in ranked for b in balancers]
    points += [{"grouping": g, "balancer": balancers[i % len(balancers)]} for i, g in enumerate(references)]
    return points


class SpaceDefinition:
    """Optuna's define-by-run space: the chosen balancer's own parameters only (a conditional space).
    An object, not a closure: the searcher's state is pickled with it when the search is checkpointed."""

    def __init__(self, space: Space, groupings: list[str]) -> None:
        self.space, self.groupings = space, groupings

    @staticmethod
    def _suggest(key: str, spec: Range | list[Any], trial: Any) -> None:
        if isinstance(spec, Range):
            trial.suggest_float(key, spec.low, spec.high, log=spec.log)
        else:
            trial.suggest_categorical(key, spec)

    def __call__(self, trial: Any) -> None:
        trial.suggest_categorical("grouping", self.groupings)
        balancer = trial.suggest_categorical("balancer", list(self.space.balancers))
        for name, spec in self.space.balancers[balancer].items():
            self._suggest(f"{balancer}.{name}", spec, trial)
        self._suggest("lr", self.space.lr, trial)
        trial.suggest_categorical("widths", list(self.space.widths))
        trial.suggest_categorical("backbone", self.space.backbones)


def trial_config(base: TrainConfig, space: Space, params: dict[str, Any], out_dir: str) -> TrainConfig:
    """The training configuration of one trial: the base with the sampled choices."""
    balancer = params["balancer"]
    widths = space.widths[params["widths"]]
    raw = base.model_dump(mode="json")
    raw["model"] |= {
        "groups": parse(params["grouping"]),
        "backbone": params["backbone"],
        "backbone_params": {"widths": widths, "stem_width": max(4, widths[0] // 2)},
    }
    raw["balancer"] |= {
        "name": balancer,
        "params": {k.split(".", 1)[1]: v for k, v in params.items() if k.startswith(f"{balancer}.")},
    }
    raw["optim"]["lr"] = params["lr"]
    raw |= {"out_dir": out_dir, "name": Path(out_dir).name}
    return TrainConfig.from_dict(raw, "trial")
