import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from nextbest.models import compiled as compiled_module
from nextbest.models.compiled import NotCompilable, _Direct, compile_booster
from nextbest.models.tabular import TabularClassifier


def _data(n: int = 20_000, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 12))
    X[rng.random(X.shape) < 0.15] = np.nan
    X[:, 3] = rng.integers(0, 9, n)  # categorical codes
    X[rng.random(n) < 0.1, 3] = np.nan
    X[:, 5] = np.round(X[:, 5] * 2)  # many exact zeros and ties
    X[:, 6] = np.abs(rng.normal(size=n)) - 0.5  # no missing values: missing compares as 0.0
    signal = (
        np.nan_to_num(X[:, 0])
        + np.isin(X[:, 3], [1, 4, 7])
        + 0.8 * np.isnan(X[:, 1])
        + 0.3 * np.nan_to_num(X[:, 5] * X[:, 2])
        - X[:, 6]
    )
    y = (signal + rng.normal(size=n) > 0.5).astype(float)
    return X, y


def _edges(X: np.ndarray) -> np.ndarray:
    E = X[:500].copy()
    E[:, 5] = 0.0
    E[::4, 6] = np.nan  # missing where training had none
    E[::3, 3] = -0.5  # truncates to code 0, as LightGBM does
    E[1::3, 3] = 99.0  # a code no split names
    E[2::5, 0] = np.inf
    return E


@pytest.mark.parametrize("leaves", [4, 31])
def test_compiled_scores_equal_lightgbm(leaves: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiled_module, "WALK_SHARE", 1.0)  # walk the wide trees, for the test
    X, y = _data()
    params = {"objective": "binary", "num_leaves": leaves, "min_data_in_leaf": 20,
              "max_cat_to_onehot": 4, "verbosity": -1, "num_threads": 1, "seed": 1}  # fmt: skip
    booster = lgb.train(params, lgb.Dataset(X, label=y, categorical_feature=[3]), 120)
    compiled = compile_booster(booster)
    if leaves > 4:  # trees on many features are walked rather than tabulated
        assert any(isinstance(t, _Direct) for t in compiled.tables)
    for data in (X, _edges(X)):
        expected = booster.predict(data, raw_score=True)
        for threads in (1, 2):
            got = compiled.raw_score(lambda i, d=data: d[:, i], len(data), n_jobs=threads)
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_regression_objective_and_constant_trees() -> None:
    X, _ = _data(2_000)
    y = np.nan_to_num(X[:, 0]) * 3.0
    booster = lgb.train({"objective": "regression", "num_leaves": 4, "verbosity": -1},
                        lgb.Dataset(X, label=y), 30)  # fmt: skip
    compiled = compile_booster(booster)
    np.testing.assert_allclose(
        compiled.raw_score(lambda i: X[:, i], len(X)), booster.predict(X), rtol=0, atol=1e-12
    )
    flat = lgb.train({"objective": "regression", "verbosity": -1},
                     lgb.Dataset(X, label=np.ones(len(X))), 3)  # fmt: skip
    assert compile_booster(flat).features == ()
    np.testing.assert_allclose(
        compile_booster(flat).raw_score(lambda i: X[:, i], len(X)), flat.predict(X), atol=1e-12
    )


def test_what_is_not_compiled_says_so() -> None:
    X, y = _data(2_000)
    multi = lgb.train({"objective": "multiclass", "num_class": 3, "verbosity": -1},
                      lgb.Dataset(X, label=(y + (X[:, 6] > 1)).astype(int)), 5)  # fmt: skip
    with pytest.raises(NotCompilable, match="one tree per iteration"):
        compile_booster(multi)
    linear = lgb.train({"objective": "binary", "linear_tree": True, "verbosity": -1},
                       lgb.Dataset(np.nan_to_num(X), label=y), 5)  # fmt: skip
    with pytest.raises(NotCompilable, match="linear trees"):
        compile_booster(linear)
    wide = lgb.train({"objective": "binary", "num_leaves": 31, "verbosity": -1},
                     lgb.Dataset(X, label=y), 20)  # fmt: skip
    with pytest.raises(NotCompilable, match="too wide for tables"):
        compile_booster(wide)  # LightGBM's predictor is as fast for such trees


def test_classifier_uses_the_compiled_scorer_with_the_same_probabilities() -> None:
    rng = np.random.default_rng(5)
    n = 4_000
    frame = pd.DataFrame(
        {
            "segment": rng.choice(["mass", "affluent", "private"], n),
            "balance": np.where(rng.random(n) < 0.1, np.nan, rng.lognormal(8, 1, n)),
            "payroll": rng.random(n) < 0.4,
            "opened": pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), "D"),
        }
    )
    y = (rng.random(n) < 0.2 + 0.3 * (frame["segment"] == "private") * frame["payroll"]).astype(int)
    model = TabularClassifier(n_estimators=80, calibration="sigmoid", calibration_folds=2).fit(
        frame, y
    )
    assert model.compiled_ is not None
    fresh = frame.head(500).copy()
    fresh.loc[fresh.index[:50], "segment"] = "unseen level"
    fast = model.predict_proba(fresh)
    model_slow = TabularClassifier(**model.get_params()).fit(frame, y)
    model_slow.compiled_ = None  # LightGBM's own predictor, on a float matrix
    np.testing.assert_allclose(fast, model_slow.predict_proba(fresh), rtol=0, atol=1e-12)
    via_pandas = model.booster_.predict(model._to_frame(fresh, reset=False), raw_score=True)
    np.testing.assert_allclose(model_slow.decision_function(fresh), via_pandas, atol=1e-12)
    with pytest.raises(ValueError, match="infinity in column 'balance'"):
        model.predict_proba(fresh.assign(balance=np.inf))
