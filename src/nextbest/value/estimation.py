"""Maximum-likelihood fitting shared by the value models: positive parameters on a log scale."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from nextbest.value.errors import ModelNotFittedError, ValueInputError

__all__ = ["LOG_BOUND", "MaximumLikelihoodResult", "maximize_log_likelihood", "require_fitted"]

#: Parameters are searched in [1e-6, 1e6]. Real fits lie well inside (CDNOW: 0.24 .. 4.4);
#: a parameter running to a bound means the data do not identify the model (too few
#: customers, no sign of dropout), and beyond it the special functions lose all precision.
LOG_BOUND = float(np.log(1e6))


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
    A bounded quasi-Newton search (L-BFGS-B) is followed by a Nelder-Mead polish from its end point,
    which recovers from the first stage stopping early on a flat ridge.

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

    start = np.clip(np.log(np.asarray(initial, dtype=float)), -LOG_BOUND + 1, LOG_BOUND - 1)
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(start)
    first = optimize.minimize(
        objective,
        start,
        method="L-BFGS-B",
        bounds=bounds,
        options={"gtol": 1e-9, "ftol": 1e-15, "maxiter": max_iter},
    )
    polished = optimize.minimize(
        objective,
        first.x,
        method="Nelder-Mead",
        bounds=bounds,
        options={"xatol": tol, "fatol": tol, "maxiter": max_iter, "maxfev": 4 * max_iter},
    )
    best = polished if polished.fun <= first.fun else first
    params = np.exp(best.x)
    total_ll = float(weights @ log_likelihood(params))
    at_bound = bool(np.any(np.abs(best.x) > LOG_BOUND - 0.01))
    converged = bool((polished.success or first.success) and np.isfinite(total_ll))
    message = str(polished.message)
    if at_bound:
        # A parameter ran off to 0 or infinity: the data cannot identify the model (too few
        # customers, or no sign of dropout). The estimate is not an interior maximum.
        converged = False
        message = "a parameter reached the search bound (1e-6 or 1e6): the data do not identify it"
    return MaximumLikelihoodResult(
        params=params,
        log_likelihood=total_ll,
        converged=converged,
        iterations=int(first.nit) + int(polished.nit),
        message=message,
    )


def require_fitted(model: object, attribute: str) -> None:
    """Raise :class:`ModelNotFittedError` unless ``model`` has the learned ``attribute``."""
    if not hasattr(model, attribute):
        raise ModelNotFittedError(
            f"{type(model).__name__} is not fitted yet; call fit(...) before predicting"
        )
