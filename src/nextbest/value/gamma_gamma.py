"""The Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005; Fader & Hardie 2013).

A customer's transaction values are Gamma(p, ν) around a personal mean ``p/ν``, and ν varies
across customers as Gamma(q, γ). Fitted on the mean spend ``z̄`` of customers with at least
one repeat purchase (``x > 0``), it shrinks each customer's observed mean towards the
population mean in proportion to how little evidence there is. It assumes spend is
independent of purchase frequency; check that before trusting it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import digamma, gammaln
from sklearn.base import BaseEstimator

from nextbest.value.errors import ValueInputError
from nextbest.value.estimation import maximize_log_likelihood, require_fitted
from nextbest.value.validation import as_float_array, require_same_length

__all__ = [
    "GammaGammaModel",
    "GammaGammaParams",
    "gamma_gamma_log_likelihood",
    "gamma_gamma_log_likelihood_gradient",
]


@dataclass(frozen=True)
class GammaGammaParams:
    """Fitted Gamma-Gamma parameters and the total log-likelihood at them."""

    p: float
    q: float
    gamma: float
    log_likelihood: float
    n_customers: int


def gamma_gamma_log_likelihood(
    params: np.ndarray, frequency: np.ndarray, monetary_value: np.ndarray
) -> np.ndarray:
    """Per-customer log density of the mean spend ``z̄`` of ``x`` transactions, ``(p, q, γ)``.

    ``f(z̄ | x) = Γ(px+q) / (Γ(px) Γ(q)) · γ^q · z̄^(px−1) · x^(px) / (γ + x z̄)^(px+q)``.
    """
    p, q, gamma = (float(v) for v in params)
    x, z = frequency, monetary_value
    px = p * x
    return (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + (px - 1.0) * np.log(z)
        + px * np.log(x)
        - (px + q) * np.log(gamma + x * z)
    )


def gamma_gamma_log_likelihood_gradient(
    params: np.ndarray, frequency: np.ndarray, monetary_value: np.ndarray
) -> np.ndarray:
    """Per-customer gradient of :func:`gamma_gamma_log_likelihood` by (p, q, γ), shape (n, 3)."""
    p, q, gamma = (float(v) for v in params)
    x, z = frequency, monetary_value
    px = p * x
    psi_pxq = digamma(px + q)
    log_total = np.log(gamma + x * z)
    d_p = x * (psi_pxq - digamma(px) + np.log(z) + np.log(x) - log_total)
    d_q = psi_pxq - digamma(q) + np.log(gamma) - log_total
    d_gamma = q / gamma - (px + q) / (gamma + x * z)
    return np.column_stack([d_p, d_q, d_gamma])


def _check_spend(frequency: object, monetary_value: object, what: str) -> tuple[np.ndarray, ...]:
    x = as_float_array(frequency, what, "frequency")
    z = as_float_array(monetary_value, what, "monetary_value")
    require_same_length(what, frequency=x, monetary_value=z)
    bad = (x > 0) & (z <= 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueInputError(
            f"{what}: row {row} has frequency {x[row]:g} but monetary_value {z[row]:g}; "
            "repeat buyers need a positive mean spend"
        )
    return x, z


class GammaGammaModel(BaseEstimator):
    """Gamma-Gamma spend model fitted by maximum likelihood on repeat buyers.

    Parameters
    ----------
    penalizer:
        L2 penalty on (p, q, γ); 0 gives the plain maximum-likelihood estimate.
    tol, max_iter:
        Optimiser settings, as for :class:`~nextbest.value.bgnbd.BetaGeoModel`.

    Attributes
    ----------
    p_, q_, gamma_ : float
        Fitted parameters (``gamma_`` in the currency of the data).
    log_likelihood_ : float
        Total log-likelihood at the fit.
    n_customers_ : int
        Number of repeat buyers fitted (rows with ``frequency > 0``).
    converged_ : bool
        Whether the optimiser reported success at an interior point.
    convergence_message_ : str
        The optimiser's message, or why the fit is not trusted.
    """

    def __init__(self, penalizer: float = 0.0, tol: float = 1e-10, max_iter: int = 5000) -> None:
        self.penalizer = penalizer
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, frequency: object, monetary_value: object) -> GammaGammaModel:
        """Fit on (frequency, mean repeat spend); rows with ``frequency == 0`` are skipped."""
        if self.penalizer < 0:
            raise ValueInputError(f"GammaGammaModel: penalizer must be >= 0, got {self.penalizer}")
        x, z = _check_spend(frequency, monetary_value, "GammaGammaModel.fit")
        repeat = x > 0
        x, z = x[repeat], z[repeat]
        if len(x) < 2:
            raise ValueInputError(
                f"GammaGammaModel.fit: needs at least 2 repeat buyers, got {len(x)}"
            )
        # Method-of-moments-like start: q = 2 keeps the mean finite, γ matches the mean spend.
        initial = np.array([1.0, 2.0, max(float(np.mean(z)), 1e-6)])
        result = maximize_log_likelihood(
            lambda params: gamma_gamma_log_likelihood(params, x, z),
            initial,
            np.ones(len(x)),
            gradient=lambda params: gamma_gamma_log_likelihood_gradient(params, x, z),
            penalizer=self.penalizer,
            tol=self.tol,
            max_iter=self.max_iter,
        )
        self.p_, self.q_, self.gamma_ = (float(v) for v in result.params)
        self.log_likelihood_ = result.log_likelihood
        self.n_customers_ = len(x)
        self.converged_ = result.converged
        self.convergence_message_ = result.message
        return self

    @property
    def params_(self) -> GammaGammaParams:
        """The fitted parameters as a frozen record."""
        require_fitted(self, "p_")
        return GammaGammaParams(
            self.p_, self.q_, self.gamma_, self.log_likelihood_, self.n_customers_
        )

    @property
    def population_mean_spend_(self) -> float:
        """E[spend per transaction] over all customers, ``pγ / (q − 1)`` (needs q > 1)."""
        require_fitted(self, "p_")
        if self.q_ <= 1:
            raise ValueInputError(
                f"GammaGammaModel: q = {self.q_:.3f} <= 1, so the mean spend is infinite"
            )
        return self.p_ * self.gamma_ / (self.q_ - 1.0)

    def expected_average_spend(self, frequency: object, monetary_value: object) -> np.ndarray:
        """E[spend per transaction | x, z̄] = p(γ + x z̄) / (px + q − 1).

        A weighted average of the population mean and the customer's own mean with weight
        ``px / (px + q − 1)`` on the latter; customers without repeat purchases get the
        population mean.
        """
        require_fitted(self, "p_")
        x, z = _check_spend(frequency, monetary_value, "GammaGammaModel.expected_average_spend")
        population = self.population_mean_spend_
        own = self.p_ * (self.gamma_ + x * z) / (self.p_ * x + self.q_ - 1.0)
        return np.where(x > 0, own, population)
