from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from nextbest.value.bgnbd import BetaGeoModel, bgnbd_log_likelihood
from nextbest.value.errors import ModelNotFittedError, ValueInputError
from nextbest.value.summary import calibration_summary
from tests.value.cdnow import CALIBRATION_END, published_summary, sample_transactions
from tests.value.simulate import simulate_bgnbd

# Fader, Hardie & Lee (2005), CDNOW sample of 2,357 customers, time in weeks.
PUBLISHED = {"r_": 0.243, "alpha_": 4.414, "a_": 0.793, "b_": 2.426}
PUBLISHED_LL = -9582.4


def _published_model() -> BetaGeoModel:
    model = BetaGeoModel()
    model.r_, model.alpha_, model.a_, model.b_ = 0.243, 4.414, 0.793, 2.426
    return model


@pytest.fixture(scope="module")
def cdnow(shared_dir: Path) -> pd.DataFrame:
    return published_summary(shared_dir)


def test_fit_reproduces_the_published_cdnow_parameters(cdnow: pd.DataFrame) -> None:
    model = BetaGeoModel().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    for name, expected in PUBLISHED.items():
        assert getattr(model, name) == pytest.approx(expected, rel=1e-2), name
    assert model.log_likelihood_ == pytest.approx(PUBLISHED_LL, abs=0.5)
    assert model.converged_ and model.n_customers_ == 2357
    params = model.params_
    assert (params.r, params.alpha, params.a, params.b) == (
        model.r_, model.alpha_, model.a_, model.b_
    )  # fmt: skip


def test_fit_on_our_own_summary_of_the_raw_log_gives_the_same(shared_dir: Path) -> None:
    summary = calibration_summary(
        sample_transactions(shared_dir),
        customer_col="customer",
        date_col="date",
        value_col="dollars",
        calibration_end=CALIBRATION_END,
        date_format="%Y%m%d",
    )
    model = BetaGeoModel().fit(summary["frequency"], summary["recency"], summary["T"])
    for name, expected in PUBLISHED.items():
        assert getattr(model, name) == pytest.approx(expected, rel=1e-2), name
    assert model.log_likelihood_ == pytest.approx(PUBLISHED_LL, rel=1e-4)


def test_published_conditional_expectation_for_one_customer() -> None:
    # Fader, Hardie & Lee's Excel implementation note (as recalled; see docs/clv.md): x = 2,
    # t_x = 30.43, T = 38.86 expects 1.226 purchases in the next 39 weeks.
    model = _published_model()
    expected = model.expected_purchases(39, [2], [30.43], [38.86])
    assert expected[0] == pytest.approx(1.226, abs=5e-4)


def test_log_likelihood_is_the_sum_at_the_published_point(cdnow: pd.DataFrame) -> None:
    ll = bgnbd_log_likelihood(
        np.array([0.243, 4.414, 0.793, 2.426]),
        cdnow["frequency"].to_numpy(float),
        cdnow["recency"].to_numpy(float),
        cdnow["T"].to_numpy(float),
    )
    assert ll.shape == (2357,)
    assert np.all(ll < 0)
    assert ll.sum() == pytest.approx(PUBLISHED_LL, abs=0.5)


def test_predictions_behave_sensibly() -> None:
    model = _published_model()
    x = np.array([0, 2, 2, 10])
    t_x = np.array([0.0, 30.0, 5.0, 38.0])
    T = np.full(4, 38.86)
    alive = model.probability_alive(x, t_x, T)
    assert alive[0] == 1.0  # no repeat purchase, so no chance yet to have dropped out
    assert alive[1] > alive[2]  # a recent last purchase is a better sign than an old one
    assert np.all((alive > 0) & (alive <= 1))
    assert np.all(model.expected_purchases(0, x, t_x, T) == 0)
    short = model.expected_purchases(10, x, t_x, T)
    long = model.expected_purchases(52, x, t_x, T)
    assert np.all(long > short) and np.all(short > 0)
    assert long[3] > long[1] > long[2]
    # Per-customer horizons broadcast.
    np.testing.assert_allclose(
        model.expected_purchases(np.array([10, 52, 10, 52]), x, t_x, T),
        [short[0], long[1], short[2], long[3]],
    )


def test_new_customer_expectation_matches_conditional_at_birth() -> None:
    model = _published_model()
    # A customer observed for no time at all is a new customer.
    at_birth = model.expected_purchases(26.0, [0], [0.0], [0.0])
    assert at_birth[0] == pytest.approx(model.expected_purchases_new_customer(26.0)[0])


def test_extreme_customers_stay_finite() -> None:
    model = _published_model()
    out = model.expected_purchases(52, [300, 1], [0.5, 52.0], [52.0, 52.0])
    assert np.all(np.isfinite(out))
    assert model.probability_alive([300], [0.5], [52.0])[0] < 1e-100


def test_simulated_cohort_recovers_parameters_and_holdout_total() -> None:
    truth = {"r": 0.5, "alpha": 6.0, "a": 0.7, "b": 2.5}
    n = 10_000
    cohort = simulate_bgnbd(n, **truth, T=52.0, horizon=52.0, seed=11)
    model = BetaGeoModel().fit(cohort.frequency, cohort.recency, cohort.T)
    assert model.r_ == pytest.approx(truth["r"], rel=0.1)
    assert model.alpha_ == pytest.approx(truth["alpha"], rel=0.15)
    assert model.a_ == pytest.approx(truth["a"], rel=0.2)
    assert model.b_ == pytest.approx(truth["b"], rel=0.3)
    # Heterogeneous rates make the totals noisy: a few percent is sampling error here.
    predicted = model.expected_purchases(52.0, cohort.frequency, cohort.recency, cohort.T)
    assert predicted.sum() == pytest.approx(cohort.holdout_purchases.sum(), rel=0.04)
    new_customer = model.expected_purchases_new_customer(52.0)[0]
    assert new_customer * n == pytest.approx(cohort.frequency.sum(), rel=0.04)


def test_estimator_contract() -> None:
    model = BetaGeoModel(penalizer=0.01)
    assert model.get_params() == {"penalizer": 0.01, "tol": 1e-10, "max_iter": 5000}
    assert clone(model).get_params() == model.get_params()
    with pytest.raises(ModelNotFittedError, match="not fitted"):
        model.probability_alive([1], [1.0], [2.0])
    fitted = model.fit([2, 1, 0, 0, 3], [30.0, 2.0, 0.0, 0.0, 20.0], [39.0] * 5)
    assert fitted is model
    assert not hasattr(clone(model), "r_")


def test_penalizer_shrinks_parameters(cdnow: pd.DataFrame) -> None:
    args = (cdnow["frequency"], cdnow["recency"], cdnow["T"])
    plain = BetaGeoModel().fit(*args)
    shrunk = BetaGeoModel(penalizer=0.1).fit(*args)
    assert shrunk.alpha_ < plain.alpha_
    assert shrunk.log_likelihood_ < plain.log_likelihood_


def test_bad_summaries_are_rejected_with_the_row() -> None:
    with pytest.raises(ValueInputError, match=r"row 1 .*recency must not exceed T"):
        BetaGeoModel().fit([1, 2], [1.0, 5.0], [3.0, 4.0])
    with pytest.raises(ValueInputError, match=r"row 0 .*whole number"):
        BetaGeoModel().fit([1.5], [1.0], [3.0])
    with pytest.raises(ValueInputError, match=r"row 0 .*recency must be 0"):
        BetaGeoModel().fit([0], [1.0], [3.0])
    with pytest.raises(ValueInputError, match="'T' in row 0"):
        BetaGeoModel().fit([0], [0.0], [np.nan])
    with pytest.raises(ValueInputError, match="no customers"):
        BetaGeoModel().fit([], [], [])
    with pytest.raises(ValueInputError, match="t must be finite"):
        _published_model().expected_purchases(-1.0, [1], [1.0], [2.0])


def test_unidentified_fit_is_reported_not_converged() -> None:
    # Five customers and no sign of dropout: the likelihood keeps rising towards a → 0.
    model = BetaGeoModel().fit([2, 1, 0, 1, 3], [59.0, 75.0, 0.0, 7.0, 85.0], [89, 86, 49, 71, 88])
    assert not model.converged_
    assert "plausible range" in model.convergence_message_


def test_analytic_gradient_matches_finite_differences(cdnow: pd.DataFrame) -> None:
    from scipy.optimize import approx_fprime

    from nextbest.value.bgnbd import bgnbd_log_likelihood_gradient

    x, t_x, T = (cdnow[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    for point in ([0.3, 5.0, 0.9, 2.0], [1.5, 0.5, 3.0, 0.4]):
        params = np.array(point)
        numeric = approx_fprime(params, lambda p: bgnbd_log_likelihood(p, x, t_x, T).sum(), 1e-7)
        analytic = bgnbd_log_likelihood_gradient(params, x, t_x, T).sum(axis=0)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-3)
