from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nextbest.value.errors import ModelNotFittedError, ValueInputError
from nextbest.value.gamma_gamma import GammaGammaModel, gamma_gamma_log_likelihood
from tests.value.cdnow import published_summary_with_spend

# Fader & Hardie, "The Gamma-Gamma model of monetary value", CDNOW 946 repeat buyers.
PUBLISHED = {"p_": 6.25, "q_": 3.74, "gamma_": 15.44}


@pytest.fixture(scope="module")
def cdnow(shared_dir: Path) -> pd.DataFrame:
    return published_summary_with_spend(shared_dir)


def test_fit_reproduces_the_published_cdnow_parameters(cdnow: pd.DataFrame) -> None:
    model = GammaGammaModel().fit(cdnow["x"], cdnow["zbar"])
    for name, expected in PUBLISHED.items():
        assert getattr(model, name) == pytest.approx(expected, rel=1e-2), name
    assert model.n_customers_ == 946 and model.converged_
    # The fitted point is a maximum: nudging any parameter lowers the likelihood.
    repeat = cdnow["x"].to_numpy(float) > 0
    x, z = cdnow["x"].to_numpy(float)[repeat], cdnow["zbar"].to_numpy(float)[repeat]
    best = np.array([model.p_, model.q_, model.gamma_])
    assert gamma_gamma_log_likelihood(best, x, z).sum() == pytest.approx(model.log_likelihood_)
    for i in range(3):
        for factor in (0.98, 1.02):
            nudged = best.copy()
            nudged[i] *= factor
            assert gamma_gamma_log_likelihood(nudged, x, z).sum() < model.log_likelihood_


def test_expected_spend_shrinks_towards_population_mean(cdnow: pd.DataFrame) -> None:
    model = GammaGammaModel().fit(cdnow["x"], cdnow["zbar"])
    population = model.population_mean_spend_
    assert population == pytest.approx(model.p_ * model.gamma_ / (model.q_ - 1))
    spend = model.expected_average_spend([0, 1, 1, 20], [0.0, 200.0, 5.0, 200.0])
    assert spend[0] == pytest.approx(population)
    assert population < spend[1] < 200.0  # one big purchase: pulled far towards the mean
    assert 5.0 < spend[2] < population
    assert spend[1] < spend[3] < 200.0  # twenty purchases: much closer to the own mean
    # Formula check for one customer.
    p, q, g = model.p_, model.q_, model.gamma_
    assert spend[3] == pytest.approx(p * (g + 20 * 200.0) / (p * 20 + q - 1))


def test_density_integrates_to_one() -> None:
    params = np.array([6.25, 3.74, 15.44])
    grid = np.linspace(1e-4, 2000.0, 400_001)
    for x in (1.0, 3.0):
        density = np.exp(gamma_gamma_log_likelihood(params, np.full_like(grid, x), grid))
        assert np.trapezoid(density, grid) == pytest.approx(1.0, abs=1e-3)


def test_simulated_spend_recovers_parameters() -> None:
    rng = np.random.default_rng(5)
    p, q, gamma = 4.0, 5.0, 60.0
    n = 5000
    x = rng.integers(1, 8, n).astype(float)
    nu = rng.gamma(q, 1.0 / gamma, n)
    # The mean of x Gamma(p, nu) values is Gamma(p x, nu x).
    zbar = rng.gamma(p * x, 1.0 / (nu * x))
    model = GammaGammaModel().fit(x, zbar)
    assert model.p_ == pytest.approx(p, rel=0.1)
    assert model.q_ == pytest.approx(q, rel=0.15)
    assert model.gamma_ == pytest.approx(gamma, rel=0.2)


def test_errors() -> None:
    with pytest.raises(ModelNotFittedError):
        GammaGammaModel().expected_average_spend([1], [1.0])
    with pytest.raises(ValueInputError, match=r"row 1 has frequency 2 but monetary_value 0"):
        GammaGammaModel().fit([1, 2], [3.0, 0.0])
    with pytest.raises(ValueInputError, match="at least 2 repeat buyers"):
        GammaGammaModel().fit([0, 1, 0], [0.0, 3.0, 0.0])
    with pytest.raises(ValueInputError, match="penalizer"):
        GammaGammaModel(penalizer=-1).fit([1, 2], [3.0, 4.0])


def test_analytic_gradient_matches_finite_differences(cdnow: pd.DataFrame) -> None:
    from scipy.optimize import approx_fprime

    from nextbest.value.gamma_gamma import gamma_gamma_log_likelihood_gradient

    repeat = cdnow["x"].to_numpy(float) > 0
    x, z = cdnow["x"].to_numpy(float)[repeat], cdnow["zbar"].to_numpy(float)[repeat]
    for point in ([5.0, 3.0, 14.0], [1.0, 8.0, 200.0]):
        params = np.array(point)
        numeric = approx_fprime(params, lambda p: gamma_gamma_log_likelihood(p, x, z).sum(), 1e-7)
        analytic = gamma_gamma_log_likelihood_gradient(params, x, z).sum(axis=0)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-3)
