"""The search's rules without Ray running: its configuration refuses what it cannot use, naming the field;
an errored trial is never told to Optuna as complete; an infeasible trial carries its constraint and is
never chosen; affinity between tasks never labeled together is unknown, not zero."""

import numpy as np
import pandas as pd
import pytest
from optuna.trial import TrialState

from flows.tune.config import Space, TuneConfig, TuneConfigError
from flows.tune.search import SearchError, connect_ray, trial_base
from flows.tune.searcher import ConstrainedOptunaSearch, constrained_sampler
from flows.tune.space import (
    SpaceDefinition,
    candidate_groupings,
    first_points,
    label,
    parse,
    trial_config,
)
from ppg_models.training.grouping import rank_known_partitions, trusted_affinity
from registry.searches import choose_trial, pareto

BASE = {"data": {"paths": ["x"]}, "model": {"tasks": ["hr", "rr", "af"]}}
OBJECTIVES = ["val.hr.mae", "val.rr.mae", "val.af.auroc"]


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"space": {"balancers": {"adamw": {}}}}, r"space\.balancers.*unknown balancer 'adamw'"),
        ({"space": {"balancers": {"famo": {"alpha": [1, 2]}}}}, r"famo: unknown parameter 'alpha'"),
        ({"space": {"groupings": [[["hr", "rr"]]]}}, r"space\.groupings\[0\].*not a partition"),
        ({"space": {"groupings": [[["hr", "rr"], ["rr", "af"]]]}}, r"not a partition"),
        ({"search": {"mode": "bayes"}}, r"search\.mode"),
        ({"base": {"data": {"paths": ["x"]}, "model": {"tasks": ["hr", "rr"]}}}, r"must include af"),
        ({"name": "../escape"}, r"name"),
        # fuzzed: each was accepted, and failed in every trial or hung the search
        ({"space": {"balancers": {"famo": {"lr": ["abc"]}}}}, r"famo\.lr: 'abc' is not allowed"),
        (
            {"space": {"balancers": {"famo": {"lr": [-1.0]}}}},
            r"famo\.lr: -1\.0 is not allowed.*greater than 0",
        ),
        ({"space": {"balancers": {"famo": {"lr": []}}}}, r"famo\.lr: an empty list of choices"),
        (
            {"space": {"balancers": {"cagrad": {"c": {"low": 0.1, "high": 5}}}}},
            r"cagrad\.c: 5\.0 is not allowed",
        ),
        ({"space": {"widths": {"x": []}}}, r"space\.widths\.x"),
        ({"space": {"widths": {"x": [0, 8]}}}, r"space\.widths\.x\.0"),
        ({"space": {"widths": {}}}, r"space\.widths.*at least one"),
        ({"space": {"backbones": []}}, r"space\.backbones"),
        ({"space": {"groupings": []}}, r"space\.groupings"),
        ({"space": {"lr": {"low": 1e-4, "high": float("inf")}}}, r"space\.lr\.high.*finite"),
        ({"search": {"af_floor": 1.5}}, r"search\.af_floor.*less than or equal to 1"),
        ({"search": {"af_floor": float("nan")}}, r"search\.af_floor.*finite"),
        (
            {"search": {"cpus_per_trial": 8, "num_cpus": 2}},
            r"cpus_per_trial 8 is more than search\.num_cpus 2",
        ),
    ],
)
def test_a_bad_search_configuration_names_the_field(override, named):
    raw = {"name": "s", "base": BASE} | override
    with pytest.raises(TuneConfigError, match=named):
        TuneConfig.from_dict(raw, "tune.yaml")


def test_a_trial_wider_than_the_local_ray_is_refused_before_ray_starts(monkeypatch):
    """Ray waits forever for a trial that asks more CPUs than any node has; the search says so instead."""
    import ray

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    config = TuneConfig.from_dict({"name": "s", "base": BASE, "search": {"cpus_per_trial": 4}})
    with pytest.raises(SearchError, match="cpus_per_trial 4 is more than the 2 CPUs of the local Ray"):
        connect_ray(config)
    assert not ray.is_initialized()


def _searcher(floor=0.8, groupings=("hr+rr+af", "hr|rr|af"), first=None):
    space = Space(balancers={"fixed": {}, "famo": {"lr": {"low": 0.01, "high": 0.1}}})
    return ConstrainedOptunaSearch(
        space=SpaceDefinition(space, list(groupings)),
        points_to_evaluate=first,
        metric=OBJECTIVES,
        mode=["min", "min", "max"],
        sampler=constrained_sampler(3, 0),
        af_floor=floor,
    )


def test_an_errored_trial_is_told_to_optuna_as_failed_even_after_reporting():
    search = _searcher()
    for t in ("ok", "broken", "weak"):
        search.suggest(t)
    last = {"val.hr.mae": 2.0, "val.rr.mae": 1.0, "val.af.auroc": 0.95}
    search.on_trial_complete("ok", last)
    search.on_trial_complete("broken", last, error=True)  # Ray's OptunaSearch would tell COMPLETE here
    search.on_trial_complete("weak", last | {"val.af.auroc": 0.6})
    ok, broken, weak = search._ot_study.trials
    assert broken.state == TrialState.FAIL
    assert broken.values is None
    assert ok.state == weak.state == TrialState.COMPLETE
    assert ok.system_attrs["constraints:af_floor"] <= 0  # feasible
    assert weak.system_attrs["constraints:af_floor"] == pytest.approx(0.2)  # infeasible by 0.2


def test_the_space_is_conditional_on_the_balancer():
    search = _searcher()
    seen = [search.suggest(f"t{i}") for i in range(12)]
    for params in seen:
        assert ("famo.lr" in params) == (params["balancer"] == "famo")


def test_an_infeasible_trial_is_never_chosen_however_good_its_other_metrics():
    frame = pd.DataFrame(
        {
            "trial": ["best-but-af-degraded", "balanced", "af-only", "errored"],
            "status": ["completed", "completed", "completed", "errored"],
            "feasible": [False, True, True, False],
            "val.hr.mae": [1.0, 3.0, 9.0, 0.5],
            "val.rr.mae": [0.5, 1.5, 4.0, 0.1],
            "val.af.auroc": [0.99, 0.85, 0.95, 0.99],
        }
    )
    assert list(pareto(frame, OBJECTIVES)) == [False, True, True, False]
    assert frame.loc[choose_trial(frame, OBJECTIVES), "trial"] == "balanced"
    assert choose_trial(frame.assign(feasible=False), OBJECTIVES) is None


def test_affinity_of_tasks_never_labeled_together_is_unknown_and_not_used_to_rank():
    tasks = ["hr", "rr", "af"]
    measured = np.array([[np.nan, 0.2, 0.1], [0.3, np.nan, 0.4], [0.05, 0.5, np.nan]])
    pair_windows = np.array([[900, 600, 300], [600, 600, 0], [300, 0, 300]])  # rr and af: never together
    trusted = trusted_affinity(measured, pair_windows, 50)
    assert np.isnan(trusted[1, 2])
    assert np.isnan(trusted[2, 1])
    assert trusted[0, 1] == pytest.approx(0.2)
    ranked, unknown = rank_known_partitions(trusted, tasks, top=5)
    assert unknown == 1  # rr+af|hr would group an unknown pair
    assert [label(p) for p, _ in ranked] == ["hr+rr|af", "rr|hr+af"]
    config = TuneConfig.from_dict({"name": "s", "base": BASE, "space": {"candidates": 1}})
    candidates = candidate_groupings(config, {"affinity": trusted})
    assert [c["grouping"] for c in candidates] == ["hr+rr+af", "hr|rr|af", "hr+rr|af", None]
    assert candidates[-1]["origin"] == "1 partitions set aside: unknown affinity"


def test_a_trial_configuration_takes_the_sampled_choices(tmp_path):
    config = TuneConfig.from_dict({"name": "s", "base": BASE, "space": {"widths": {"tiny": [8, 8, 16, 16]}}})
    params = {
        "grouping": "hr+rr|af",
        "balancer": "famo",
        "famo.lr": 0.05,
        "lr": 0.003,
        "widths": "tiny",
        "backbone": "resnet1d",
    }
    cfg = trial_config(config.base, config.space, params, str(tmp_path / "t"))
    assert cfg.model.groups == parse("hr+rr|af") == [["hr", "rr"], ["af"]]
    assert cfg.balancer.name == "famo"
    assert cfg.balancer.params == {"lr": 0.05}
    assert cfg.optim.lr == 0.003
    assert cfg.model.backbone_params == {"widths": [8, 8, 16, 16], "stem_width": 4}


@pytest.mark.parametrize(
    ("cpus", "threads", "expected"), [(1, 2, 1), (0.5, 2, 1), (2, 2, 2), (4, 2, 2), (2, 1, 1)]
)
def test_a_trial_trains_with_the_threads_of_the_cpus_it_is_given(cpus, threads, expected):
    """Trials side by side must not oversubscribe the cores Ray shares out between them."""
    raw = {"name": "s", "base": BASE | {"threads": threads}, "search": {"cpus_per_trial": cpus}}
    assert trial_base(TuneConfig.from_dict(raw))["threads"] == expected


def test_the_search_starts_with_the_ranked_groupings_each_with_every_balancer_then_the_references():
    candidates = [
        {"grouping": "hr+rr+af", "origin": "reference: all shared", "score": None},
        {"grouping": "hr|rr|af", "origin": "reference: all singletons", "score": None},
        {"grouping": "hr+rr|af", "origin": "affinity", "score": 0.4},
        {"grouping": "hr+af|rr", "origin": "affinity", "score": 0.1},
        {"grouping": None, "origin": "1 partitions set aside: unknown affinity", "score": None},
    ]
    first = first_points(candidates, ["fixed", "famo"])
    assert [(p["grouping"], p["balancer"]) for p in first] == [
        ("hr+rr|af", "fixed"),
        ("hr+rr|af", "famo"),
        ("hr+af|rr", "fixed"),
        ("hr+af|rr", "famo"),
        ("hr+rr+af", "fixed"),
        ("hr|rr|af", "famo"),
    ]
    search = _searcher(groupings=[c["grouping"] for c in candidates if c["grouping"]], first=first)
    seen = [search.suggest(f"t{i}") for i in range(8)]
    started = [{"grouping": s["grouping"], "balancer": s["balancer"]} for s in seen[:6]]
    assert started == first
    assert all("famo.lr" in s for s in seen[:6] if s["balancer"] == "famo")  # the rest is still sampled
