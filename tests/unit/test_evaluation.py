"""Evaluation metrics against scikit-learn, subject-bootstrap intervals, subgroups and JSON round trip."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, roc_auc_score, roc_curve

from ppg_models.evaluation.metrics import METRICS
from ppg_models.evaluation.report import EvaluationReport, evaluate, subject_weights
from ppg_models.tasks import TASKS


def test_every_catalogue_metric_is_implemented():
    for task in TASKS:
        assert set(task.metrics) <= set(METRICS)


def test_classification_metrics_match_scikit_learn():
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.3).astype(float)
    p = np.round(np.clip(0.35 * y + 0.65 * rng.random(400), 0, 1), 2)  # ties on purpose
    ones = np.ones((1, 400))
    assert METRICS["auroc"](y, p, ones)[0] == pytest.approx(roc_auc_score(y, p))
    fpr, tpr, _ = roc_curve(y, p)
    assert METRICS["sens_at_spec95"](y, p, ones)[0] == pytest.approx(tpr[fpr <= 0.05].max())
    assert METRICS["sens_at_spec97"](y, p, ones)[0] == pytest.approx(tpr[fpr <= 0.03].max())
    assert METRICS["f1"](y, p, ones)[0] == pytest.approx(f1_score(y, p >= 0.5))


def test_regression_metrics_and_weights():
    y = np.array([70.0, 80, 90, 100])
    p = np.array([72.0, 77, 90, 112])
    ones = np.ones((1, 4))
    assert METRICS["mae"](y, p, ones)[0] == pytest.approx(4.25)
    assert METRICS["mean_error"](y, p, ones)[0] == pytest.approx(2.75)
    assert METRICS["within_5bpm_or_10pct"](y, p, ones)[0] == pytest.approx(0.75)
    assert METRICS["mae"](y, p, np.array([[2.0, 0, 0, 0]]))[0] == pytest.approx(2.0)  # weights = draw counts


def test_ece_is_zero_for_perfect_calibration_and_large_for_overconfidence():
    y = np.array([0.0, 1.0] * 50)
    assert METRICS["ece"](y, np.full(100, 0.5), np.ones((1, 100)))[0] == pytest.approx(0.0)
    assert METRICS["ece"](y, np.full(100, 0.99), np.ones((1, 100)))[0] == pytest.approx(0.49)


def _meta(n_subjects: int, per: int) -> pd.DataFrame:
    subjects = np.repeat([f"s{i}" for i in range(n_subjects)], per)
    return pd.DataFrame(
        {
            "window_id": [f"w{i}" for i in range(len(subjects))],
            "subject_id": subjects,
            "source": np.where(np.arange(len(subjects)) % 2, "icu", "wearable"),
            "device": "d",
            "skin_tone": np.tile([1, 6], len(subjects) // 2),
            "motion": "none",
        }
    )


def _as_text(report: EvaluationReport) -> str:
    raw = report.to_dict()
    return json.dumps([raw["tasks"], raw["subgroups"]], sort_keys=True)


def test_report_has_intervals_subgroups_and_paired_predictions(tmp_path):
    meta = _meta(20, 10)
    rng = np.random.default_rng(1)
    hr = rng.normal(75, 10, 200)
    subject_bias = np.repeat(rng.normal(0, 3, 20), 10)
    preds = {"hr": hr + subject_bias + rng.normal(0, 1, 200), "af": rng.random(200)}
    labels = {"hr": hr, "af": (rng.random(200) < 0.3).astype(float)}
    labels["hr"][:5] = np.nan
    report = evaluate(preds, labels, meta, model="m", resamples=300, seed=0)
    hr_result = report.tasks["hr"]
    assert hr_result.n_windows == 195
    assert hr_result.n_subjects == 20
    mae = hr_result.metrics["mae"]
    assert mae.low < mae.value < mae.high
    icu = report.subgroup("source", "icu", "hr")
    assert icu is not None
    assert icu.n_windows + report.subgroup("source", "wearable", "hr").n_windows == 195
    assert report.subgroup("skin_tone", "6", "af").n_windows == 100
    frame = report.predictions_frame()
    assert list(frame.columns[:2]) == ["window_id", "subject_id"]
    assert frame["label_hr"].isna().sum() == 5
    back = EvaluationReport.from_json(report.to_json(tmp_path / "r.json"))
    assert _as_text(back) == _as_text(report)  # NaN intervals (too few subjects) compare as text
    assert "| hr | 195 (20) |" in report.markdown()


def test_bootstrap_resamples_subjects_not_windows():
    codes = np.repeat(np.arange(5), 3)
    w = subject_weights(codes, 5, resamples=50, seed=0)
    assert w.shape == (50, 15)
    assert np.all(w.sum(axis=1) == 15)  # five subjects drawn, three windows each
    assert np.all(w[:, 0] == w[:, 1])
    assert np.all(w[:, 1] == w[:, 2])


def test_subject_clustered_errors_widen_the_interval():
    meta = _meta(10, 30)
    rng = np.random.default_rng(2)
    y = rng.normal(75, 5, 300)
    clustered = y + np.repeat(rng.normal(0, 5, 10), 30)
    independent = y + rng.normal(0, 5, 300)
    width = {}
    for name, p in (("clustered", clustered), ("independent", independent)):
        r = (
            evaluate({"sbp": p}, {"sbp": y}, meta, model=name, resamples=400)
            .tasks["sbp"]
            .metrics["mean_error"]
        )
        width[name] = r.high - r.low
    assert width["clustered"] > 2 * width["independent"]


def test_markdown_says_n_a_where_a_metric_cannot_be_computed():
    meta = _meta(2, 5)
    labels = {"af": np.zeros(10), "hr": np.full(10, np.nan)}  # one AF class only; no HR labels
    report = evaluate(
        {"af": np.linspace(0, 1, 10), "hr": np.full(10, 70.0)}, labels, meta, model="m", resamples=20
    )
    text = report.markdown()
    assert "auroc n/a" in text
    assert "| hr | 0 | no labeled test windows |" in text
    assert "nan" not in text


def test_one_subject_gives_no_interval_and_says_insufficient():
    meta = _meta(1, 40)
    y = np.random.default_rng(3).normal(75, 5, 40)
    report = evaluate({"hr": y + 3}, {"hr": y}, meta, "m", resamples=100)
    hr = report.tasks["hr"]
    assert hr.n_subjects == 1
    assert hr.insufficient == "1 subject (needs 3)"
    mae = hr.metrics["mae"]
    assert mae.value == pytest.approx(3.0)
    assert np.isnan(mae.low)
    assert np.isnan(mae.high)  # never "[3, 3]"
    assert "no intervals: 1 subject (needs 3)" in report.markdown()
    by_tone = [s.result for s in report.subgroups if s.attribute == "skin_tone"]
    assert all(np.isnan(r.metrics["mae"].low) and r.insufficient for r in by_tone)


def test_af_counts_positive_and_negative_subjects_and_resamples_them_apart():
    meta = _meta(8, 20)
    subject = np.repeat(np.arange(8), 20)
    y = (subject < 2).astype(float)  # two AF-positive subjects, six negative
    p = np.clip(0.6 * y + 0.4 * np.random.default_rng(4).random(160), 0, 1)
    af = evaluate({"af": p}, {"af": y}, meta, "m", resamples=200).tasks["af"]
    assert (af.n_subjects, af.n_positive_subjects, af.n_negative_subjects) == (8, 2, 6)
    assert "2 AF-positive and 6 AF-negative subjects" in af.insufficient
    assert np.isnan(af.metrics["auroc"].low)
    y3 = (subject < 3).astype(float)
    noisy = np.clip(0.25 * y3 + 0.75 * np.random.default_rng(5).random(160), 0, 1)
    af3 = evaluate({"af": noisy}, {"af": y3}, meta, "m", resamples=200).tasks["af"]
    assert af3.insufficient == ""
    assert af3.metrics["auroc"].low < af3.metrics["auroc"].high  # both classes in every resample


def test_stratified_draws_keep_each_stratum_size():
    codes = np.repeat(np.arange(6), 2)
    strata = np.array([True, True, False, False, False, False])
    w = subject_weights(codes, 6, resamples=300, seed=1, strata=strata)
    per_subject = w[:, ::2]
    assert np.all(per_subject[:, :2].sum(axis=1) == 2)  # two positives drawn in every resample
    assert np.all(per_subject[:, 2:].sum(axis=1) == 4)
