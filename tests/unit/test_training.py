"""Training: subject-wise splits, typed config errors, checkpoints and resume, determinism, early stopping."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

from ppg_models.sim.simulate import simulate_batch
from ppg_models.training.config import ConfigError, TrainConfig
from ppg_models.training.data import (
    SplitError,
    check_disjoint,
    epoch_order,
    split_by_subject,
    windows_from_table,
)
from ppg_models.training.trainer import MAX_THREADS_VARIABLE, thread_count, train


@pytest.fixture(scope="module")
def windows():
    tables = [simulate_batch(s, 5, b, 120) for b, s in enumerate(["icu", "wearable", "sleep-lab"])]
    return windows_from_table(pa.concat_tables(tables))


@pytest.fixture
def config(tmp_path, small_backbone):
    """A factory of small training configurations: ``config(out_dir, optim={...}, ...)``."""

    def make(tmp: Path = tmp_path, **over) -> TrainConfig:
        return _config(tmp, small_backbone, **over)

    return make


def _config(tmp: Path, backbone: dict, **over) -> TrainConfig:
    raw = {
        "data": {"paths": ["unused"]},
        "model": {"backbone_params": backbone},
        "optim": {"epochs": 2, "batch_size": 32, "patience": 5},
        "threads": 1,
        "out_dir": str(tmp),
    }
    for key, value in over.items():
        raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
    return TrainConfig.from_dict(raw)


def test_split_by_subject_keeps_subjects_whole_and_is_stable(windows):
    subjects = windows.meta["subject_id"].tolist()
    parts = split_by_subject(subjects, seed=3)
    assert sum(len(v) for v in parts.values()) == len(subjects)
    by_part = {k: {subjects[i] for i in v} for k, v in parts.items()}
    assert not (by_part["train"] & by_part["val"])
    assert not (by_part["train"] & by_part["test"])
    again = split_by_subject(subjects, seed=3)
    assert all(np.array_equal(parts[k], again[k]) for k in parts)


def test_a_split_that_shares_a_subject_is_refused():
    with pytest.raises(SplitError, match=r"icu-0001 \(train and test\)"):
        check_disjoint({"train": ["icu-0001", "icu-0002"], "val": ["icu-0003"], "test": ["icu-0001"]})


def test_source_balanced_order_favours_rare_sources(windows):
    meta = windows.meta.iloc[: 240 + 20].copy()  # 120 icu, 120 wearable, 20 sleep-lab
    order = epoch_order(meta, np.random.default_rng(0), balance_sources=True)
    share = (meta["source"].to_numpy()[order] == "sleep-lab").mean()
    assert 0.25 < share < 0.42


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"optim": {"epochs": 0}}, "optim.epochs"),
        ({"model": {"tasks": ["hr", "temp"]}}, "model.tasks"),
        ({"model": {"groups": [["hr"]]}}, "must partition"),
        ({"balancer": {"protected": "glucose"}}, "balancer.protected"),
        ({"optim": {"learning_rate": 1}}, "optim.learning_rate"),
        # fuzzed: accepted, then failed (or trained nothing) once the run started
        ({"optim": {"lr": float("inf")}}, "optim.lr"),
        ({"model": {"tasks": []}}, "model.tasks"),
        ({"model": {"tasks": ["hr", "hr", "af"]}}, "tasks listed twice"),
        ({"model": {"backbone_params": {"widths": [-8, 8]}}}, "widths.0"),
        ({"model": {"backbone_params": {"widths": []}}}, "widths"),
        ({"model": {"backbone_params": {"stem_width": 0}}}, "stem_width"),
    ],
)
def test_bad_config_names_the_field(tmp_path, override, field, config):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        config(tmp_path, **override)


def test_bad_yaml_names_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data: [unclosed")
    with pytest.raises(ConfigError, match=r"c\.yaml: not valid YAML"):
        TrainConfig.from_yaml(path)


def test_training_is_deterministic_for_a_seed(tmp_path, windows, config):
    parts = split_by_subject(windows.meta["subject_id"].tolist(), seed=0)
    tr, va = windows.subset(parts["train"]), windows.subset(parts["val"])
    a = train(config(tmp_path / "a", optim={"epochs": 1}), tr, va, tmp_path / "a", resume=False)
    b = train(config(tmp_path / "b", optim={"epochs": 1}), tr, va, tmp_path / "b", resume=False)
    for (name, pa_), pb in zip(a.model.state_dict().items(), b.model.state_dict().values(), strict=True):
        assert torch.equal(pa_, pb), name


class _CrashError(Exception):
    pass


def test_a_run_killed_after_an_epoch_resumes_to_the_same_result(tmp_path, windows, config):
    parts = split_by_subject(windows.meta["subject_id"].tolist(), seed=0)
    tr, va = windows.subset(parts["train"]), windows.subset(parts["val"])
    cfg = config(tmp_path, optim={"epochs": 3})

    def crash_after_first_epoch(event):
        if event["event"] == "epoch" and event["epoch"] == 0:
            raise _CrashError

    with pytest.raises(_CrashError):
        train(cfg, tr, va, tmp_path / "run", on_progress=crash_after_first_epoch)
    resumed = train(cfg, tr, va, tmp_path / "run", resume=True)
    assert resumed.resumed_from == 1
    assert [h["epoch"] for h in resumed.history] == [0, 1, 2]
    straight = train(config(tmp_path / "s", optim={"epochs": 3}), tr, va, tmp_path / "s", resume=False)
    assert resumed.history[-1]["monitor"] == pytest.approx(straight.history[-1]["monitor"], rel=1e-6)
    for a, b in zip(resumed.model.state_dict().values(), straight.model.state_dict().values(), strict=True):
        assert torch.allclose(a.float(), b.float(), atol=1e-6)


def test_early_stopping_when_validation_stops_improving(tmp_path, windows, config, monkeypatch):
    import ppg_models.training.trainer as trainer_module

    real = trainer_module.validation_losses
    calls = []

    def worse_after_the_first(*args):  # the best validation loss is the first epoch's
        losses = real(*args)
        calls.append(1)
        return {task: value * (1 + 0.5 * (len(calls) - 1)) for task, value in losses.items()}

    monkeypatch.setattr(trainer_module, "validation_losses", worse_after_the_first)
    parts = split_by_subject(windows.meta["subject_id"].tolist(), seed=0)
    cfg = config(tmp_path, optim={"epochs": 8, "patience": 2, "lr": 1e-12, "warmup_epochs": 0})
    result = train(cfg, windows.subset(parts["train"]), windows.subset(parts["val"]), tmp_path, resume=False)
    assert len(result.history) <= 4
    assert result.best_epoch <= 1


def test_history_logs_per_task_losses_and_balancer_weights(tmp_path, windows, config):
    parts = split_by_subject(windows.meta["subject_id"].tolist(), seed=0)
    cfg = config(
        tmp_path, balancer={"name": "uncertainty", "protected": "af"}, optim={"epochs": 1}, affinity_every=3
    )
    result = train(cfg, windows.subset(parts["train"]), windows.subset(parts["val"]), tmp_path, resume=False)
    record = result.history[0]
    assert set(record["weights"]) == {"hr", "spo2", "rr", "sbp", "dbp", "af"}
    assert set(record["train_loss"]) <= set(record["weights"])
    assert result.affinity.shape == (6, 6)
    assert np.isnan(result.affinity[5, 1]), "AF and SpO2 are never labeled together in the simulated sources"
    assert np.isfinite(result.affinity[0, 1])


def test_stratified_split_puts_af_subjects_in_every_part():
    subjects = [f"s{i}" for i in range(60) for _ in range(3)]
    strata = {f"s{i}": ("wearable/af" if i % 10 == 0 else "wearable/no-af") for i in range(60)}
    parts = split_by_subject(subjects, (0.6, 0.2, 0.2), seed=4, strata=strata)
    for name, idx in parts.items():
        af = {subjects[i] for i in idx if strata[subjects[i]] == "wearable/af"}
        assert af, f"{name} has no AF subject"
    again = split_by_subject(subjects, (0.6, 0.2, 0.2), seed=4, strata=strata)
    assert all(np.array_equal(parts[k], again[k]) for k in parts)
    check_disjoint({k: [subjects[i] for i in v] for k, v in parts.items()})


def test_a_stratum_with_blood_pressure_is_split_across_its_range():
    """22 ICU subjects with SBP from 100 to 163: whatever the seed, the test part's few subjects span the
    range (one from each third) instead of, by chance, its lowest end; validation too."""
    import pandas as pd

    from ppg_models.training.data import stratified_split, subject_strata

    sbp = {f"icu-{i:02d}": 100.0 + 3 * i for i in range(22)}
    subjects = [s for s in sbp for _ in range(4)]
    table = pa.table(
        {
            "subject_id": subjects,
            "source": ["icu"] * len(subjects),
            "af": [0.0] * len(subjects),
            "sbp": [sbp[s] + k for s in sbp for k in (-1.0, 0.0, 0.5, 1.5)],
        }
    )
    strata, levels = subject_strata(pd.DataFrame({"subject_id": subjects, "source": "icu"}), np.zeros(88),
                                    np.asarray(table.column("sbp")))  # fmt: skip
    assert set(strata.values()) == {"icu/no-af/level"}
    assert levels["icu-03"] == pytest.approx(109.25)
    chosen = set()
    for seed in range(12):
        parts = stratified_split(table, (0.7, 0.15, 0.15), seed)
        again = stratified_split(table, (0.7, 0.15, 0.15), seed)
        assert all(np.array_equal(parts[k], again[k]) for k in parts), "stable for a seed"
        named = {k: sorted({subjects[i] for i in v}) for k, v in parts.items()}
        check_disjoint(named)
        for part in ("test", "val"):
            thirds = sorted(int((sbp[s] - 100) // 22) for s in named[part])
            assert thirds == [0, 1, 2], (seed, part, named[part])
        all_mean, test_mean = np.mean(list(sbp.values())), np.mean([sbp[s] for s in named["test"]])
        assert abs(test_mean - all_mean) <= 11, (seed, named["test"])  # half a block: 22/3 subjects x 3 / 2
        chosen.add(tuple(named["test"]))
    assert len(chosen) >= 4, "the seed still changes which subjects are held out"


def test_a_stratum_where_some_subjects_lack_the_level_keeps_the_hash_order():
    subjects = [f"s{i}" for i in range(20)]
    strata = dict.fromkeys(subjects, "icu/no-af")
    levels = {s: float(i) for i, s in enumerate(subjects[:10])}  # half of them: not the whole stratum
    assert all(
        np.array_equal(a, b)
        for a, b in zip(
            split_by_subject(subjects, seed=2, strata=strata, levels=levels).values(),
            split_by_subject(subjects, seed=2, strata=strata).values(),
            strict=True,
        )
    )


def test_each_group_keeps_the_epoch_best_for_its_own_tasks(tmp_path, windows, config, monkeypatch):
    """Group 0's tasks are best at epoch 0, AF (its own group) keeps improving: each keeps its own epoch,
    and training goes on while any group improves."""
    import ppg_models.training.trainer as trainer_module
    from ppg_models.training.selection import best_file

    real = trainer_module.validation_losses
    epoch = []

    def diverging(*args):
        losses = real(*args)
        epoch.append(1)
        k = len(epoch) - 1
        return {t: v * (0.5**k if t == "af" else 1 + k) for t, v in losses.items()}

    monkeypatch.setattr(trainer_module, "validation_losses", diverging)
    parts = split_by_subject(windows.meta["subject_id"].tolist(), seed=0)
    others = ["hr", "spo2", "rr", "sbp", "dbp"]
    cfg = config(tmp_path, model={"groups": [others, ["af"]]}, optim={"epochs": 4, "patience": 2})
    result = train(cfg, windows.subset(parts["train"]), windows.subset(parts["val"]), tmp_path, resume=False)
    assert result.best_epochs == {"+".join(others): 0, "af": 3}
    assert len(result.history) == 4, "AF still improving: training does not stop after group 0's patience"
    kept = torch.load(best_file(tmp_path, 0), weights_only=True)
    state = result.model.state_dict()
    for name, value in kept.items():
        assert torch.equal(state[name].cpu(), value), name
    assert result.history[1]["improved_groups"] == [1]


def test_famo_learns_from_each_steps_effect_during_training(tmp_path, windows, config):
    from ppg_models.training.trainer import Trainer

    parts = split_by_subject(windows.meta["subject_id"].tolist(), seed=0)
    cfg = config(tmp_path, balancer={"name": "famo"}, optim={"epochs": 1})
    trainer = Trainer(cfg, windows.subset(parts["train"]), windows.subset(parts["val"]), tmp_path)
    running = [m.running_mean.clone() for m in trainer.model.modules() if hasattr(m, "running_mean")]
    trainer.fit()
    assert float(trainer.balancer.logits.abs().max()) > 1e-3, "FAMO's logits moved"
    assert int(trainer.balancer.steps.max()) == trainer.steps_per_epoch
    after = [m.running_mean for m in trainer.model.modules() if hasattr(m, "running_mean")]
    assert any(not torch.equal(a, b) for a, b in zip(running, after, strict=True))


def test_heads_fine_tuned_on_frozen_features_keep_their_own_best_and_leave_the_backbones(
    tmp_path, windows, config
):
    parts = split_by_subject(windows.meta["subject_id"].tolist(), seed=0)
    tr, va = windows.subset(parts["train"]), windows.subset(parts["val"])
    plain = train(config(tmp_path / "a", optim={"epochs": 1}), tr, va, tmp_path / "a", resume=False)
    tuning = {"epochs": 4, "patience": 2, "lr": 2e-3}
    cfg = config(tmp_path / "b", optim={"epochs": 1, "head_tuning": tuning})
    tuned = train(cfg, tr, va, tmp_path / "b", resume=False)
    backbones = {k: v for k, v in plain.model.state_dict().items() if k.startswith("backbones.")}
    after = tuned.model.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in backbones.items()), "the features stay frozen"
    report = {k: v for k, v in tuned.head_tuning.items() if k != "epochs_run"}
    assert set(report) == set(tuned.model.head_tasks())
    assert 1 <= tuned.head_tuning["epochs_run"] <= 4
    for head in report.values():
        assert head["val_after"] <= head["val_before"], "a head never ends worse than it came"
        assert 0 <= head["kept_epoch"] <= tuned.head_tuning["epochs_run"]
    assert any(h["val_after"] < h["val_before"] for h in report.values()), "one epoch left room to improve"
    from ppg_models.training.trainer import validation_losses

    measured = validation_losses(tuned.model, va, torch.device("cpu"))
    for head in report.values():  # the kept states are the ones reported
        assert sum(measured[t] for t in head["tasks"]) == pytest.approx(head["val_after"], rel=1e-5)
    assert all(p.requires_grad for p in tuned.model.parameters()), "trainable again for a resumed run"


def test_group_monitor_is_the_geometric_mean_of_relative_losses():
    """A task stuck near its first loss and swinging by 30 % must not outvote two tasks still improving
    (the arithmetic mean of the ratios did: the full benchmark stopped with SpO2 at twice its error)."""
    from ppg_models.training.selection import GroupSelection

    sel = GroupSelection([["spo2", "rr", "sbp"]], patience=2)
    assert sel.monitor({"spo2": 0.2, "rr": 0.3, "sbp": 0.5}) == pytest.approx(1.0)
    before = sel.monitor({"spo2": 0.1, "rr": 0.06, "sbp": 0.4})  # ratios 0.5, 0.2, 0.8
    after = sel.monitor({"spo2": 0.07, "rr": 0.04, "sbp": 0.6})  # 0.35, 0.13, 1.2: two tasks better
    assert after < before
    assert before == pytest.approx((0.5 * 0.2 * 0.8) ** (1 / 3))
    assert sel.monitor({"spo2": 0.1, "rr": 0.06, "sbp": 0.4}, ["spo2"]) == pytest.approx(0.5)
    assert sel.monitor({"spo2": float("nan"), "rr": 0.06, "sbp": 0.4}) == float("inf")
    assert sel.monitor({"spo2": 0.0, "rr": 0.06, "sbp": 0.4}) > 0  # a zero loss: finite, tiny
    assert sel.monitor({}) == float("inf")


def test_ppg_max_threads_caps_the_threads_of_a_training_and_a_bad_value_is_named(monkeypatch):
    monkeypatch.delenv(MAX_THREADS_VARIABLE, raising=False)
    assert thread_count(2) == 2
    monkeypatch.setenv(MAX_THREADS_VARIABLE, "1")
    assert (thread_count(2), thread_count(1)) == (1, 1)
    monkeypatch.setenv(MAX_THREADS_VARIABLE, "4")
    assert thread_count(2) == 2
    for bad in ("0", "two", "1.5", "-1"):
        monkeypatch.setenv(MAX_THREADS_VARIABLE, bad)
        with pytest.raises(ValueError, match=rf"PPG_MAX_THREADS='{bad}': not a number of threads"):
            thread_count(2)


def test_a_training_reports_the_threads_it_used(config, windows, tmp_path, monkeypatch):
    monkeypatch.setenv(MAX_THREADS_VARIABLE, "1")
    parts = split_by_subject(windows.meta["subject_id"].tolist(), seed=0)
    cfg = config(optim={"epochs": 1}, threads=2)
    result = train(cfg, windows.subset(parts["train"]), windows.subset(parts["val"]), tmp_path / "c")
    assert result.threads == torch.get_num_threads() == 1
