"""The BG/NBD model of repeat buying (Fader, Hardie & Lee 2005, Marketing Science 24(2)).

While alive a customer buys as a Poisson process with rate λ ~ Gamma(r, α); after each
purchase the customer drops out with probability p ~ Beta(a, b). Given a customer's
frequency ``x`` (repeat purchases), recency ``t_x`` and age ``T`` the model yields the
probability of being alive and the expected number of purchases in a coming period.

The estimator follows the scikit-learn contract: ``__init__`` stores hyper-parameters,
``fit`` learns ``r_``, ``alpha_``, ``a_``, ``b_`` and returns ``self``; the data are not kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, digamma, gammaln, hyp2f1
from sklearn.base import BaseEstimator

from nextbest.value.errors import ValueInputError
from nextbest.value.estimation import maximize_log_likelihood, require_fitted
from nextbest.value.validation import as_float_array, require_same_length

__all__ = [
    "BetaGeoModel",
    "BetaGeoParams",
    "bgnbd_log_likelihood",
    "bgnbd_log_likelihood_gradient",
    "check_rfm_summary",
]


@dataclass(frozen=True)
class BetaGeoParams:
    """Fitted BG/NBD parameters and the total log-likelihood at them."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n_customers: int


def check_rfm_summary(
    frequency: object, recency: object, T: object, what: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a (frequency, recency, T) summary and return it as float arrays.

    Frequency must be a non-negative whole number, ``0 ≤ recency ≤ T`` and recency must be
    0 for customers without repeat purchases.
    """
    x = as_float_array(frequency, what, "frequency")
    t_x = as_float_array(recency, what, "recency")
    age = as_float_array(T, what, "T")
    require_same_length(what, frequency=x, recency=t_x, T=age)
    problems = [
        (x != np.round(x), "frequency must be a whole number"),
        (t_x > age * (1 + 1e-12) + 1e-12, "recency must not exceed T"),
        ((x == 0) & (t_x > 0), "recency must be 0 when frequency is 0"),
    ]
    for bad, rule in problems:
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueInputError(
                f"{what}: row {row} (frequency={x[row]:g}, recency={t_x[row]:g}, "
                f"T={age[row]:g}): {rule}"
            )
    return x, t_x, age


def bgnbd_log_likelihood(
    params: np.ndarray, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood at ``params = (r, α, a, b)`` (FHL 2005, eq. 6).

    ``L = B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x))
    + [x > 0] · B(a+1, b+x−1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x))``,
    evaluated in logs with ``gammaln``/``betaln`` and the two terms joined by
    ``logaddexp`` so that neither underflows.
    """
    r, alpha, a, b = (float(v) for v in params)
    x, t_x, age = frequency, recency, T
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
    still_alive = betaln(a, b + x) - (r + x) * np.log(alpha + age)
    repeat = x > 0
    # For x = 0 the second term is absent; evaluate it at a harmless x to avoid betaln(·, b-1).
    x_safe = np.where(repeat, x, 1.0)
    dropped = betaln(a + 1.0, b + x_safe - 1.0) - (r + x) * np.log(alpha + t_x)
    joined = np.where(repeat, np.logaddexp(still_alive, dropped), still_alive)
    return common + joined


def bgnbd_log_likelihood_gradient(
    params: np.ndarray, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Per-customer gradient of :func:`bgnbd_log_likelihood` by (r, α, a, b), shape (n, 4).

    With ``w`` the share of the "still alive" term in the likelihood (1 when x = 0), each
    derivative is the common part's plus the ``w``-weighted derivatives of the two terms;
    ``ψ`` is the digamma function.
    """
    r, alpha, a, b = (float(v) for v in params)
    x, t_x, age = frequency, recency, T
    repeat = x > 0
    x_safe = np.where(repeat, x, 1.0)
    still_alive = betaln(a, b + x) - (r + x) * np.log(alpha + age)
    dropped = betaln(a + 1.0, b + x_safe - 1.0) - (r + x) * np.log(alpha + t_x)
    w = np.where(repeat, np.exp(still_alive - np.logaddexp(still_alive, dropped)), 1.0)
    v = 1.0 - w
    psi_abx = digamma(a + b + x)
    d_r = (
        digamma(r + x)
        - digamma(r)
        + np.log(alpha)
        - w * np.log(alpha + age)
        - v * np.log(alpha + t_x)
    )
    d_alpha = r / alpha - (r + x) * (w / (alpha + age) + v / (alpha + t_x))
    d_a = (
        -(digamma(a) - digamma(a + b))
        + w * (digamma(a) - psi_abx)
        + v * (digamma(a + 1.0) - psi_abx)
    )
    d_b = (
        -(digamma(b) - digamma(a + b))
        + w * (digamma(b + x) - psi_abx)
        + v * (digamma(b + x_safe - 1.0) - psi_abx)
    )
    return np.column_stack([d_r, d_alpha, d_a, d_b])


def _distinct_rows(*columns: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Distinct rows of the given columns and how often each occurs (the fit's weights)."""
    stacked = np.column_stack(columns)
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return tuple(unique[:, i] for i in range(unique.shape[1])), counts.astype(float)


class BetaGeoModel(BaseEstimator):
    """BG/NBD model fitted by maximum likelihood.

    Parameters
    ----------
    penalizer:
        L2 penalty on (r, α, a, b) added to the mean negative log-likelihood; 0 (default)
        gives the maximum-likelihood estimate the published figures use.
    tol:
        Convergence tolerance of the final Nelder-Mead polish (on log-parameters).
    max_iter:
        Iteration cap for each optimiser stage.

    Attributes
    ----------
    r_, alpha_, a_, b_ : float
        Fitted parameters; ``alpha_`` is in the time unit of the fitting data.
    log_likelihood_ : float
        Total log-likelihood at the fitted parameters (without the penalty).
    n_customers_ : int
        Number of customers fitted.
    converged_ : bool
        Whether the optimiser reported success at an interior point.
    convergence_message_ : str
        The optimiser's message, or why the fit is not trusted.

    Examples
    --------
    >>> model = BetaGeoModel().fit([2, 1, 0, 0], [30.4, 1.7, 0.0, 0.0], [38.9] * 4)
    >>> bool(model.probability_alive([0], [0.0], [38.9])[0] == 1.0)
    True
    """

    def __init__(self, penalizer: float = 0.0, tol: float = 1e-10, max_iter: int = 5000) -> None:
        self.penalizer = penalizer
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, frequency: object, recency: object, T: object) -> BetaGeoModel:
        """Fit on one summary row per customer (see :mod:`nextbest.value.summary`)."""
        if self.penalizer < 0:
            raise ValueInputError(f"BetaGeoModel: penalizer must be >= 0, got {self.penalizer}")
        x, t_x, age = check_rfm_summary(frequency, recency, T, "BetaGeoModel.fit")
        if len(x) == 0:
            raise ValueInputError("BetaGeoModel.fit: no customers to fit")
        (ux, ut, uT), weights = _distinct_rows(x, t_x, age)
        # Start near the usual scale: α in the data's time unit, mild heterogeneity.
        initial = np.array([1.0, max(float(np.mean(age)), 1e-3), 1.0, 1.0])
        result = maximize_log_likelihood(
            lambda params: bgnbd_log_likelihood(params, ux, ut, uT),
            initial,
            weights,
            gradient=lambda params: bgnbd_log_likelihood_gradient(params, ux, ut, uT),
            penalizer=self.penalizer,
            tol=self.tol,
            max_iter=self.max_iter,
        )
        self.r_, self.alpha_, self.a_, self.b_ = (float(v) for v in result.params)
        self.log_likelihood_ = result.log_likelihood
        self.n_customers_ = len(x)
        self.converged_ = result.converged
        self.convergence_message_ = result.message
        return self

    @property
    def params_(self) -> BetaGeoParams:
        """The fitted parameters as a frozen record."""
        require_fitted(self, "r_")
        return BetaGeoParams(
            self.r_, self.alpha_, self.a_, self.b_, self.log_likelihood_, self.n_customers_
        )

    def _inputs(
        self, frequency: object, recency: object, T: object, what: str
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        require_fitted(self, "r_")
        return check_rfm_summary(frequency, recency, T, f"BetaGeoModel.{what}")

    def _log_inverse_alive_odds(
        self, x: np.ndarray, t_x: np.ndarray, age: np.ndarray
    ) -> np.ndarray:
        """``log(1 + [x>0] · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x))``, the denominator of both."""
        r, alpha, a, b = self.r_, self.alpha_, self.a_, self.b_
        x_safe = np.where(x > 0, x, 1.0)
        log_odds = (
            np.log(a)
            - np.log(b + x_safe - 1.0)
            + (r + x) * (np.log(alpha + age) - np.log(alpha + t_x))
        )
        return np.where(x > 0, np.logaddexp(0.0, log_odds), 0.0)

    def probability_alive(self, frequency: object, recency: object, T: object) -> np.ndarray:
        """P(customer still alive at T | x, t_x, T) (FHL 2005, eq. 11)."""
        x, t_x, age = self._inputs(frequency, recency, T, "probability_alive")
        return np.exp(-self._log_inverse_alive_odds(x, t_x, age))

    def expected_purchases(
        self, t: object, frequency: object, recency: object, T: object
    ) -> np.ndarray:
        """E[purchases in (T, T+t] | x, t_x, T] (FHL 2005, eq. 10), ``t`` in the fit's unit.

        ``t`` may be a scalar or one value per customer.
        """
        x, t_x, age = self._inputs(frequency, recency, T, "expected_purchases")
        horizon = np.broadcast_to(np.asarray(t, dtype=float), x.shape)
        if np.any(~np.isfinite(horizon) | (horizon < 0)):
            raise ValueInputError("BetaGeoModel.expected_purchases: t must be finite and >= 0")
        r, alpha, a, b = self.r_, self.alpha_, self.a_, self.b_
        z = horizon / (alpha + age + horizon)
        # ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x−1; z); the power is computed in logs.
        power = np.exp((r + x) * np.log1p(-z))
        bracket = 1.0 - power * hyp2f1(r + x, b + x, a + b + x - 1.0, z)
        numerator = (a + b + x - 1.0) / (a - 1.0) * bracket
        return numerator * np.exp(-self._log_inverse_alive_odds(x, t_x, age))

    def expected_purchases_new_customer(self, t: object) -> np.ndarray:
        """E[X(t)]: expected purchases in (0, t] of a customer just acquired (FHL eq. 9)."""
        require_fitted(self, "r_")
        horizon = np.atleast_1d(np.asarray(t, dtype=float))
        r, alpha, a, b = self.r_, self.alpha_, self.a_, self.b_
        z = horizon / (alpha + horizon)
        power = np.exp(r * np.log1p(-z))
        return (a + b - 1.0) / (a - 1.0) * (1.0 - power * hyp2f1(r, b, a + b - 1.0, z))
