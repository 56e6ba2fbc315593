import pytest

from ppg_models.tasks import ORDERED_LABELS, TASK_NAMES, TASKS, TaskSpec, get_task


def test_catalogue_has_the_six_tasks_once_each():
    assert TASK_NAMES == ("hr", "spo2", "rr", "sbp", "dbp", "af")
    assert len(set(TASK_NAMES)) == len(TASKS)


def test_every_task_declares_unit_metric_and_channels():
    for task in TASKS:
        assert task.loss in ("smooth_l1", "bce")
        assert task.needs_all or task.needs_any
        assert (task.kind == "binary") == (task.name == "af")
        assert task.unit or task.kind == "binary"


def test_spo2_needs_red_and_infrared_while_hr_needs_any_channel():
    spo2, hr = get_task("spo2"), get_task("hr")
    assert spo2.can_estimate({"red", "ir"})
    assert not spo2.can_estimate({"ir"})
    assert not spo2.can_estimate({"green"})
    assert hr.can_estimate({"green"})
    assert not hr.can_estimate(set())


def test_blood_pressure_tasks_share_one_head():
    assert get_task("sbp").head_name == get_task("dbp").head_name == "bp"
    assert get_task("hr").head_name == "hr"
    assert ("sbp", "dbp") in ORDERED_LABELS


def test_unknown_task_error_lists_the_known_ones():
    with pytest.raises(KeyError, match="known tasks: hr, spo2, rr, sbp, dbp, af"):
        get_task("temperature")


def test_a_task_with_an_empty_range_or_unknown_channel_is_refused():
    with pytest.raises(ValueError, match="empty"):
        TaskSpec(
            "x", "regression", "u", (5, 5), "smooth_l1", "mae", False, needs_any=("ir",), metrics=("mae",)
        )
    with pytest.raises(ValueError, match="unknown channels"):
        TaskSpec(
            "x", "regression", "u", (0, 5), "smooth_l1", "mae", False, needs_any=("uv",), metrics=("mae",)
        )
    with pytest.raises(ValueError, match="primary metric"):
        TaskSpec(
            "x", "regression", "u", (0, 5), "smooth_l1", "mae", False, needs_any=("ir",), metrics=("rmse",)
        )


def test_vectorised_estimable_agrees_with_can_estimate_for_every_channel_subset():
    import itertools

    import numpy as np

    from ppg_models.tasks import CHANNELS

    rows = np.array(list(itertools.product([False, True], repeat=len(CHANNELS))))
    for task in TASKS:
        expected = [task.can_estimate([c for c, p in zip(CHANNELS, row, strict=True) if p]) for row in rows]
        assert task.estimable(rows, np.ones_like(rows)).tolist() == expected
