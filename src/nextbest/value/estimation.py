"""Maximum-likelihood fitting shared by the value models: positive parameters on a log scale."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from nextbest.value.errors import ModelNotFittedError, ValueInputError

__all__ = ["MaximumLikelihoodResult", "maximize_log_likelihood", "require_fitted"]


@dataclass(frozen=True)
class MaximumLikelihoodResult:
    """Parameters at the optimum, the total log-likelihood there and optimiser diagnostics."""

    params: np.ndarray
    log_likelihood: float
    converged: bool
    iterations: int
    message: str


def maximize_log_likelihood(
    log_likelihood: Callable[[np.ndarray], np.ndarray],
    initial: np.ndarray,
    weights: np.ndarray,
    *,
    penalizer: float = 0.0,
    tol: float = 1e-10,
    max_iter: int = 5000,
) -> MaximumLikelihoodResult:
    """Maximise ``Σ weights · log_likelihood(params)`` over positive ``params``.

    The optimiser works on ``log(params)`` so positivity needs no constraint, and on the
    weighted *mean* log-likelihood so its tolerance does not depend on the sample size.
    A quasi-Newton search (BFGS) is followed by a Nelder-Mead polish from its end point,
    which recovers from BFGS stopping early on a flat ridge.

    Parameters
    ----------
    log_likelihood:
        Pure function of the parameter vector returning the log-likelihood per row.
    initial:
        Positive starting parameters.
    weights:
        Row weights (e.g. how many customers share each distinct summary row).
    penalizer:
        L2 penalty on the parameters (``penalizer · Σ params²`` added to the mean negative
        log-likelihood); 0 gives the plain maximum-likelihood estimate.
    """
    total_weight = float(weights.sum())
    if total_weight <= 0:
        raise ValueInputError("maximum likelihood: no observations to fit")

    def objective(log_params: np.ndarray) -> float:
        params = np.exp(log_params)
        ll = log_likelihood(params)
        value = -float(weights @ ll) / total_weight + penalizer * float(params @ params)
        # Outside the numerically valid region return a large finite value so the line
        # search backs off instead of failing.
        return value if np.isfinite(value) else 1e300

    start = np.log(np.asarray(initial, dtype=float))
    first = optimize.minimize(
        objective, start, method="BFGS", options={"gtol": 1e-9, "maxiter": max_iter}
    )
    polished = optimize.minimize(
        objective,
        first.x,
        method="Nelder-Mead",
        options={"xatol": tol, "fatol": tol, "maxiter": max_iter, "maxfev": 4 * max_iter},
    )
    best = polished if polished.fun <= first.fun else first
    params = np.exp(best.x)
    total_ll = float(weights @ log_likelihood(params))
    return MaximumLikelihoodResult(
        params=params,
        log_likelihood=total_ll,
        converged=bool(polished.success or first.success) and np.isfinite(total_ll),
        iterations=int(first.nit) + int(polished.nit),
        message=str(polished.message),
    )


def require_fitted(model: object, attribute: str) -> None:
    """Raise :class:`ModelNotFittedError` unless ``model`` has the learned ``attribute``."""
    if not hasattr(model, attribute):
        raise ModelNotFittedError(
            f"{type(model).__name__} is not fitted yet; call fit(...) before predicting"
        )
