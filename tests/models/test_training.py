import numpy as np
import pandas as pd
import pytest

from nextbest.models.tabular import TabularClassifier
from nextbest.models.training import (
    TrainingInputError,
    cross_validate,
    prepare_table,
    single_feature_baselines,
)


def _table(n: int = 400, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    recency = rng.integers(1, 365, n).astype(float)
    products = rng.integers(1, 6, n)
    churn = rng.random(n) < 1 / (1 + np.exp(-(-2 + recency / 120 - 0.3 * products)))
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(n)],
            "recency_days": recency,
            "products": products,
            "region": rng.choice(["north", "south"], n),
            "country": "CN",
            "churned": np.where(churn, "yes", "no"),
        }
    )


def test_prepare_table_picks_the_event_and_drops_useless_columns() -> None:
    prepared = prepare_table(_table(), "churned", exclude=["products"])
    assert prepared.positive_label == "yes"
    assert list(prepared.features.columns) == ["recency_days", "region"]
    reasons = {d.column: d.reason for d in prepared.dropped}
    assert reasons["products"] == "excluded by the user"
    assert reasons["country"] == "constant or empty"
    assert "distinct value" in reasons["customer_id"]
    assert prepared.y.sum() == (_table().churned == "yes").sum()


def test_numeric_target_takes_the_larger_value_and_positive_overrides() -> None:
    table = _table()
    table["churned"] = (table["churned"] == "yes").astype(int)
    assert prepare_table(table, "churned").positive_label == 1
    flipped = prepare_table(table, "churned", positive="0")
    assert flipped.positive_label == 0
    assert flipped.y.sum() == (table["churned"] == 0).sum()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.drop(columns=["churned"]), "target column 'churned' not found"),
        (lambda t: t.assign(churned=np.arange(len(t)) % 3), "must be binary"),
        (lambda t: t.assign(churned=t.churned.where(t.index != 7)), "blank in 1 row.*data rows 8"),
    ],
)
def test_target_errors_name_the_column(change, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TrainingInputError, match=message):
        prepare_table(change(_table()), "churned")


def test_unknown_exclude_and_positive_are_named() -> None:
    with pytest.raises(TrainingInputError, match=r"unknown column.*durration"):
        prepare_table(_table(), "churned", exclude=["durration"])
    with pytest.raises(TrainingInputError, match="positive label 'maybe'"):
        prepare_table(_table(), "churned", positive="maybe")


def test_cross_validate_reports_design_folds_and_pooled_scores() -> None:
    prepared = prepare_table(_table(), "churned")
    calls: list[int] = []
    cv = cross_validate(
        TabularClassifier(n_estimators=30, min_child_samples=20),
        prepared.features,
        prepared.y,
        folds=4,
        repeats=2,
        seed=3,
        on_fold=lambda done, total: calls.append(done),
    )
    assert (cv.folds, cv.repeats, cv.seed) == (4, 2, 3)
    assert len(cv.per_fold) == 8 and calls == list(range(1, 9))
    assert sum(f.n for f in cv.per_fold) == 2 * 400
    assert cv.summary["auc"].n == 8
    assert cv.summary["auc"].mean == pytest.approx(np.mean([f.auc for f in cv.per_fold]))
    assert cv.summary["auc"].mean > 0.65
    assert len(cv.oof_score) == 400
    assert cv.pooled.n == 400
    again = cross_validate(
        TabularClassifier(n_estimators=30, min_child_samples=20),
        prepared.features,
        prepared.y,
        folds=4,
        repeats=2,
        seed=3,
    )
    assert again.summary == cv.summary
    assert "oof_score" not in cv.to_dict()


def test_cross_validate_refuses_more_folds_than_rare_events() -> None:
    X = pd.DataFrame({"a": np.arange(20.0)})
    y = np.array([1, 1] + [0] * 18)
    with pytest.raises(TrainingInputError, match="fewer than the 5 folds"):
        cross_validate(TabularClassifier(), X, y, folds=5)


def test_single_feature_baselines_orient_and_pick_the_best() -> None:
    prepared = prepare_table(_table(), "churned")
    best = single_feature_baselines(prepared.features, prepared.y)
    assert list(best) == ["best single feature (recency_days)"]
    chosen = single_feature_baselines(prepared.features, prepared.y, ["recency_days"])
    np.testing.assert_array_equal(chosen["recency_days"], prepared.features.recency_days)
    with pytest.raises(TrainingInputError, match="'region' is not numeric"):
        single_feature_baselines(prepared.features, prepared.y, ["region"])
