import numpy as np
import pytest
from sklearn import metrics as skm

from nextbest.models.evaluation import (
    EvaluationInputError,
    binned_sums,
    bootstrap_interval,
    brier_score,
    calibration,
    confusion_at,
    evaluate_binary,
    gains_table,
    ks_statistic,
    roc_auc,
    roc_curve,
    summarise_folds,
)


def _random(n: int = 500, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    # Rounded scores create many ties, which is where implementations differ.
    s = np.round(np.clip(0.3 * y + rng.normal(0.4, 0.25, n), 0, 1), 1)
    return y, s


def test_auc_hand_computed_with_a_tie() -> None:
    # Pairs (event, non-event): (0.8,0.2) win, (0.8,0.5) win, (0.5,0.2) win, (0.5,0.5) tie.
    y = [1, 1, 0, 0]
    s = [0.8, 0.5, 0.5, 0.2]
    assert roc_auc(y, s) == pytest.approx(3.5 / 4)


def test_auc_roc_and_ks_match_sklearn_with_ties() -> None:
    y, s = _random()
    assert roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    fpr, tpr, _ = skm.roc_curve(y, s, drop_intermediate=False)
    curve = roc_curve(y, s)
    np.testing.assert_allclose(curve.fpr, fpr)
    np.testing.assert_allclose(curve.tpr, tpr)
    assert ks_statistic(y, s) == pytest.approx(float(np.max(tpr - fpr)))


def test_ks_hand_computed() -> None:
    # Sorted high to low: 1,1,0,1,0,0 -> after two records tpr=2/3, fpr=0: KS = 2/3.
    y = [1, 1, 0, 1, 0, 0]
    s = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    assert ks_statistic(y, s) == pytest.approx(2 / 3)


def test_gains_hand_computed_without_ties() -> None:
    y = [1, 1, 0, 1, 0, 0, 0, 0, 0, 0]
    s = np.linspace(1.0, 0.1, 10)
    rows = gains_table(y, s, n_bins=5)
    assert [r.count for r in rows] == [2, 2, 2, 2, 2]
    assert [r.events for r in rows] == [2, 1, 0, 0, 0]
    assert rows[0].lift == pytest.approx(1.0 / 0.3)
    assert rows[1].cumulative_gain == pytest.approx(1.0)
    assert rows[1].cumulative_lift == pytest.approx(0.75 / 0.3)
    assert rows[0].max_score == pytest.approx(1.0)
    assert rows[0].min_score == pytest.approx(0.9)


def test_gains_splits_a_tie_group_across_a_boundary_in_proportion() -> None:
    # Four records share the top score, two of them events; the first half-bin takes two
    # of the four, so it gets half of the group's two events whatever the row order.
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0])
    s = np.array([0.9, 0.9, 0.9, 0.9, 0.5, 0.4, 0.3, 0.2])
    first = gains_table(y, s, n_bins=4)
    order = np.array([3, 1, 0, 2, 7, 6, 5, 4])
    second = gains_table(y[order], s[order], n_bins=4)
    assert first == second
    assert [r.events for r in first] == [1.0, 1.0, 0.0, 0.0]
    assert first[-1].cumulative_gain == pytest.approx(1.0)


def test_binned_sums_conserves_records_events_and_score_mass() -> None:
    y, s = _random(n=997)
    sums = binned_sums(y, s, 10, descending=False)
    assert sums.count.sum() == 997
    assert sums.events.sum() == pytest.approx(y.sum())
    assert sums.score_sum.sum() == pytest.approx(s.sum())
    assert np.all(sums.min_score <= sums.max_score)


def test_brier_and_calibration_match_sklearn() -> None:
    rng = np.random.default_rng(5)
    p = rng.uniform(0, 1, 2000)
    y = (rng.uniform(0, 1, 2000) < p).astype(int)
    assert brier_score(y, p) == pytest.approx(skm.brier_score_loss(y, p))
    result = calibration(y, p, n_bins=5)
    from sklearn.calibration import calibration_curve

    observed, predicted = calibration_curve(y, p, n_bins=5, strategy="quantile")
    np.testing.assert_allclose(result.observed_rate, observed, atol=1e-9)
    np.testing.assert_allclose(result.mean_predicted, predicted, atol=1e-9)
    assert result.counts == (400,) * 5
    # A calibrated score has a small gap and beats predicting the base rate.
    assert result.expected_calibration_error < 0.05
    assert result.brier < result.brier_reference


def test_confusion_hand_computed_and_against_sklearn() -> None:
    y = [1, 1, 0, 1, 0, 0]
    s = [0.9, 0.8, 0.7, 0.4, 0.3, 0.1]
    c = confusion_at(y, s, threshold=0.5)
    assert (c.true_positive, c.false_positive, c.true_negative, c.false_negative) == (2, 1, 2, 1)
    assert c.precision == pytest.approx(2 / 3)
    assert c.recall == pytest.approx(2 / 3)
    assert c.f1 == pytest.approx(2 / 3)
    assert c.specificity == pytest.approx(2 / 3)
    yy, ss = _random()
    c2 = confusion_at(yy, ss, threshold=0.6)
    pred = (ss >= 0.6).astype(int)
    assert c2.precision == pytest.approx(skm.precision_score(yy, pred))
    assert c2.recall == pytest.approx(skm.recall_score(yy, pred))
    assert c2.f1 == pytest.approx(skm.f1_score(yy, pred))
    assert c2.accuracy == pytest.approx(skm.accuracy_score(yy, pred))


def test_confusion_with_no_predicted_positive_reports_zero_precision() -> None:
    c = confusion_at([1, 0], [0.2, 0.1], threshold=0.5)
    assert c.precision == 0.0 and c.f1 == 0.0 and c.recall == 0.0


def test_evaluate_binary_bundles_everything_and_serialises() -> None:
    y, s = _random()
    ev = evaluate_binary(y, s, threshold=0.5)
    assert ev.gini == pytest.approx(2 * ev.auc - 1)
    assert len(ev.gains) == 10
    assert ev.top_decile_lift == ev.gains[0].lift
    d = ev.to_dict()
    assert d["auc"] == ev.auc and d["gains"][0]["bin"] == 1
    import json

    json.dumps(d)


def test_evaluate_binary_accepts_an_unbounded_baseline_score() -> None:
    y, _ = _random()
    recency = np.where(y == 1, 5.0, 30.0) + np.arange(y.size) % 7
    ev = evaluate_binary(y, -recency, threshold=-10)
    assert ev.auc > 0.9
    assert 0 <= ev.calibration.brier <= 1


def test_invalid_inputs_raise_clear_errors() -> None:
    with pytest.raises(EvaluationInputError, match="one class"):
        roc_auc([1, 1], [0.1, 0.2])
    with pytest.raises(EvaluationInputError, match="equal length"):
        roc_auc([1, 0], [0.1])
    with pytest.raises(EvaluationInputError, match="0/1"):
        roc_auc([2, 0], [0.1, 0.2])
    with pytest.raises(EvaluationInputError, match="NaN"):
        roc_auc([1, 0], [np.nan, 0.2])
    with pytest.raises(EvaluationInputError, match=r"\[0, 1\]"):
        calibration([1, 0], [1.5, 0.2])


def test_bootstrap_interval_is_seeded_and_covers_the_estimate() -> None:
    y, s = _random()
    a = bootstrap_interval(y, s, n_resamples=200, seed=1)
    b = bootstrap_interval(y, s, n_resamples=200, seed=1)
    assert a == b
    assert a.lower < a.estimate < a.upper
    assert a.upper - a.lower < 0.15


def test_summarise_folds() -> None:
    summary = summarise_folds([0.7, 0.8, 0.9])
    assert summary.mean == pytest.approx(0.8)
    assert summary.sd == pytest.approx(0.1)
    half = 1.959963984540054 * 0.1 / np.sqrt(3)
    assert summary.interval.lower == pytest.approx(0.8 - half)
    assert summary.minimum == 0.7 and summary.maximum == 0.9
