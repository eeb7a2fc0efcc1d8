import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.utils.estimator_checks import estimator_checks_generator

from nextbest.models.evaluation import roc_auc
from nextbest.models.tabular import TabularClassifier

# scikit-learn checks that do not apply, with the reason; every other check runs.
NOT_APPLICABLE: dict[str, str] = {
    # Needs SCIPY_ARRAY_API set at interpreter start; LightGBM takes NumPy/pandas only.
    "check_array_api_input": "LightGBM does not accept array-API namespaces",
}


def _check_name(check: object) -> str:
    return str(getattr(check, "func", check).__name__)


CONTRACT_CHECKS = [
    (estimator, check)
    for estimator, check in estimator_checks_generator(
        TabularClassifier(n_estimators=10, min_child_samples=1), legacy=True
    )
    if _check_name(check) not in NOT_APPLICABLE
]


def _frame(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    segment = rng.choice(["mass", "affluent", "private"], n, p=[0.6, 0.3, 0.1])
    balance = rng.lognormal(8, 1, n)
    balance[rng.random(n) < 0.1] = np.nan
    tenure = rng.integers(0, 30, n).astype(float)
    logit = -1.5 + 1.2 * (segment == "private") + 0.6 * (segment == "affluent") - 0.05 * tenure
    logit = logit + np.where(np.isnan(balance), 1.0, 0.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(
        {
            "segment": pd.array(segment, dtype="str"),
            "balance": balance,
            "tenure": tenure,
            "is_staff": rng.random(n) < 0.05,
        }
    )
    return frame, y


@pytest.mark.parametrize(
    ("estimator", "check"), CONTRACT_CHECKS, ids=[_check_name(c) for _, c in CONTRACT_CHECKS]
)
def test_sklearn_estimator_contract(estimator, check) -> None:  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)


def test_fits_dataframe_with_text_category_bool_and_missing_values() -> None:
    X, y = _frame()
    model = TabularClassifier(n_estimators=60, min_child_samples=20).fit(X, y)
    assert model.categories_ == {"segment": ["affluent", "mass", "private"]}
    assert list(model.feature_names_in_) == ["segment", "balance", "tenure", "is_staff"]
    p = model.predict_proba(X)[:, 1]
    assert p.shape == (600,) and np.all((p > 0) & (p < 1))
    assert roc_auc(y, p) > 0.7
    assert model.predict(X).tolist()[:3] == model.classes_[(p[:3] > 0.5).astype(int)].tolist()


def test_string_labels_pick_the_second_sorted_class_as_event() -> None:
    X, y = _frame()
    labels = np.where(y == 1, "yes", "no")
    model = TabularClassifier(n_estimators=30, min_child_samples=20).fit(X, labels)
    assert model.classes_.tolist() == ["no", "yes"]
    ref = TabularClassifier(n_estimators=30, min_child_samples=20).fit(X, y)
    np.testing.assert_allclose(model.predict_proba(X), ref.predict_proba(X))


def test_training_is_deterministic_and_independent_of_row_order() -> None:
    X, y = _frame()
    a = TabularClassifier(n_estimators=40).fit(X, y).predict_proba(X)
    b = TabularClassifier(n_estimators=40).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    # Category codes come from sorted levels, not from first appearance.
    X2 = X.copy()
    X2["segment"] = X2["segment"].astype("category")
    c = TabularClassifier(n_estimators=40).fit(X2, y).predict_proba(X)
    np.testing.assert_array_equal(a, c)


def test_unseen_level_at_prediction_is_treated_as_missing() -> None:
    X, y = _frame()
    model = TabularClassifier(n_estimators=30, min_child_samples=20).fit(X, y)
    new = X.head(3).copy()
    new["segment"] = ["ultra", None, "mass"]
    missing = X.head(3).copy()
    missing["segment"] = [None, None, "mass"]
    np.testing.assert_allclose(model.predict_proba(new), model.predict_proba(missing))


def test_unfitted_model_raises_not_fitted() -> None:
    X, _ = _frame(n=10)
    with pytest.raises(NotFittedError):
        TabularClassifier().predict_proba(X)


def test_rejects_more_than_two_classes_naming_them() -> None:
    X, _ = _frame(n=60)
    with pytest.raises(ValueError, match="Only binary classification"):
        TabularClassifier().fit(X, np.arange(60) % 3)


def test_non_numeric_values_in_a_numeric_column_name_the_column() -> None:
    X, y = _frame()
    model = TabularClassifier(n_estimators=10).fit(X, y)
    bad = X.head(2).copy()
    bad["tenure"] = ["ten", "3"]
    with pytest.raises(ValueError, match="'tenure'"):
        model.predict_proba(bad)


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibration_on_out_of_fold_scores(method: str) -> None:
    X, y = _frame(n=1500, seed=2)
    model = TabularClassifier(n_estimators=60, calibration=method, min_child_samples=20)
    model.fit(X, y)
    p = model.predict_proba(X)[:, 1]
    assert model.calibrator_ is not None
    assert np.all((p >= 0) & (p <= 1))
    # Calibrated on held-out folds, the mean probability tracks the event rate.
    assert abs(p.mean() - y.mean()) < 0.02
    raw = model.decision_function(X)
    # Calibration is monotone, so it keeps the ranking of the raw score.
    order = np.argsort(raw, kind="stable")
    assert np.all(np.diff(p[order]) >= -1e-12)


def test_calibration_on_a_holdout_share_trains_one_booster_on_the_rest() -> None:
    X, y = _frame(n=2000, seed=3)
    model = TabularClassifier(
        n_estimators=60, calibration="sigmoid", calibration_holdout=0.25, min_child_samples=20
    ).fit(X, y)
    p = model.predict_proba(X)[:, 1]
    assert abs(p.mean() - y.mean()) < 0.03
    # the calibrator is Platt on the booster's raw scores of exactly the held-out rows
    _, held = train_test_split(np.arange(y.size), test_size=0.25, stratify=y, random_state=0)
    raw = model.decision_function(X.iloc[np.sort(held)])
    expected = LogisticRegression(C=1e6).fit(raw.reshape(-1, 1), y[np.sort(held)])
    np.testing.assert_allclose(model.calibrator_.coef_, expected.coef_, rtol=1e-6)
    # and the booster never saw those rows: its in-sample fit is on the other 75 %
    on_rest = TabularClassifier(n_estimators=60, min_child_samples=20).fit(
        X.drop(index=X.index[held]), np.delete(y, held)
    )
    np.testing.assert_allclose(raw, on_rest.decision_function(X.iloc[np.sort(held)]), atol=1e-12)


def test_distilled_student_of_small_trees_tracks_a_deep_teacher() -> None:
    X, y = _frame(n=3000, seed=5)
    deep = {"num_leaves": 15, "n_estimators": 80, "min_child_samples": 20}
    teacher = TabularClassifier(**deep).fit(X, y)
    student = TabularClassifier(**deep, distill_rounds=200).fit(X, y)
    assert student.compiled_ is not None
    assert student.booster_.num_trees() == 200
    dump = student.booster_.dump_model()["tree_info"]
    assert max(t["num_leaves"] for t in dump) <= 4
    X_new, y_new = _frame(n=3000, seed=6)
    a, b = teacher.decision_function(X_new), student.decision_function(X_new)
    assert np.corrcoef(a, b)[0, 1] > 0.95
    assert roc_auc(y_new, b) >= roc_auc(y_new, a) - 0.01


def test_early_stopping_chooses_fewer_rounds_than_the_maximum() -> None:
    X, y = _frame(n=1500, seed=4)
    model = TabularClassifier(
        n_estimators=2000, learning_rate=0.2, early_stopping_rounds=20, min_child_samples=20
    ).fit(X, y)
    assert 1 <= model.best_iteration_ < 2000
    assert model.booster_.num_trees() == model.best_iteration_


def test_importance_and_contributions_explain_the_score() -> None:
    X, y = _frame()
    model = TabularClassifier(n_estimators=60, min_child_samples=20).fit(X, y)
    table = model.importance()
    assert {r.feature for r in table} == set(X.columns)
    assert table[0].gain >= table[-1].gain
    assert sum(r.share for r in table) == pytest.approx(1.0)
    np.testing.assert_allclose(model.feature_importances_.sum(), 1.0)  # scikit-learn convention
    contrib = model.contributions(X.head(20))
    np.testing.assert_allclose(contrib.sum(axis=1), model.decision_function(X.head(20)))
    reasons = model.top_reasons(X.head(20), k=2)
    assert len(reasons) == 20
    for row_reasons, (_, row) in zip(reasons, X.head(20).iterrows(), strict=True):
        assert len(row_reasons) <= 2
        assert all(r.contribution > 0 for r in row_reasons)
        for r in row_reasons:
            assert r.value is row[r.feature] or r.value == row[r.feature] or pd.isna(r.value)


def test_pickle_round_trip_and_clone() -> None:
    X, y = _frame()
    model = TabularClassifier(n_estimators=20).fit(X, y)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(model.predict_proba(X), again.predict_proba(X))
    fresh = clone(model)
    assert fresh.get_params() == model.get_params()
    assert not hasattr(fresh, "booster_")
