"""Maximum-likelihood fitting shared by the value models: positive parameters on a log scale."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from nextbest.value.errors import ModelNotFittedError, ValueInputError

__all__ = [
    "LOG_BOUND",
    "PLAUSIBLE",
    "MaximumLikelihoodResult",
    "maximize_log_likelihood",
    "require_fitted",
]

#: Parameters are searched in [1e-6, 1e6]. Real fits lie well inside (CDNOW: 0.24 .. 4.4);
#: a parameter running to a bound means the data do not identify the model (too few
#: customers, no sign of dropout), and beyond it the special functions lose all precision.
LOG_BOUND = float(np.log(1e6))
#: A fitted parameter outside this range is reported as not converged. With time in days,
#: weeks or months and money in ordinary units, real fits lie far inside it.
PLAUSIBLE = (1e-4, 1e4)


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
    gradient: Callable[[np.ndarray], np.ndarray] | None = None,
    penalizer: float = 0.0,
    tol: float = 1e-10,
    max_iter: int = 5000,
) -> MaximumLikelihoodResult:
    """Maximise ``Σ weights · log_likelihood(params)`` over positive ``params``.

    The optimiser works on ``log(params)`` so positivity needs no constraint, and on the
    weighted *mean* log-likelihood so its tolerance does not depend on the sample size.
    A bounded quasi-Newton search (L-BFGS-B, with the analytic ``gradient`` when given) does
    the work; a Nelder-Mead polish from its end point follows only when there is no
    analytic gradient or the first stage did not report success, because it recovers from
    stops on the flat ridges these likelihoods have but costs many evaluations.

    Parameters
    ----------
    log_likelihood:
        Pure function of the parameter vector returning the log-likelihood per row.
    initial:
        Positive starting parameters.
    weights:
        Row weights (e.g. how many customers share each distinct summary row).
    gradient:
        Pure function returning the per-row gradient of ``log_likelihood`` with respect to
        the parameters, shape ``(rows, len(params))``; ``None`` for finite differences.
    penalizer:
        L2 penalty on the parameters (``penalizer · Σ params²`` added to the mean negative
        log-likelihood); 0 gives the plain maximum-likelihood estimate.
    tol, max_iter:
        Tolerance and iteration cap of each stage.
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

    def objective_and_gradient(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        assert gradient is not None
        params = np.exp(log_params)
        value = objective(log_params)
        grad = -(weights @ gradient(params)) / total_weight + 2.0 * penalizer * params
        # Chain rule for the log scale: d/dθ = p · d/dp.
        grad = grad * params
        if not np.all(np.isfinite(grad)):
            grad = np.zeros_like(grad)
        return value, grad

    start = np.clip(np.log(np.asarray(initial, dtype=float)), -LOG_BOUND + 1, LOG_BOUND - 1)
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(start)
    first = optimize.minimize(
        objective_and_gradient if gradient is not None else objective,
        start,
        jac=gradient is not None,
        method="L-BFGS-B",
        bounds=bounds,
        options={"gtol": 1e-10, "ftol": 1e-15, "maxiter": max_iter},
    )
    best = first
    iterations = int(first.nit)
    success = bool(first.success)
    message = str(first.message)
    if gradient is None or not first.success:
        polished = optimize.minimize(
            objective,
            first.x,
            method="Nelder-Mead",
            bounds=bounds,
            options={"xatol": tol, "fatol": tol, "maxiter": max_iter, "maxfev": 4 * max_iter},
        )
        iterations += int(polished.nit)
        success = success or bool(polished.success)
        message = str(polished.message)
        if polished.fun <= first.fun:
            best = polished
    params = np.exp(best.x)
    total_ll = float(weights @ log_likelihood(params))
    implausible = bool(np.any((params < PLAUSIBLE[0]) | (params > PLAUSIBLE[1])))
    converged = success and bool(np.isfinite(total_ll))
    if implausible:
        # A parameter ran off towards 0 or infinity, where the likelihood is flat: the data
        # cannot identify the model (too few customers, or no heterogeneity to estimate).
        converged = False
        message = (
            f"a parameter left the plausible range [{PLAUSIBLE[0]:g}, {PLAUSIBLE[1]:g}]: "
            "the data do not identify the model"
        )
    return MaximumLikelihoodResult(
        params=params,
        log_likelihood=total_ll,
        converged=converged,
        iterations=iterations,
        message=message,
    )


def require_fitted(model: object, attribute: str) -> None:
    """Raise :class:`ModelNotFittedError` unless ``model`` has the learned ``attribute``."""
    if not hasattr(model, attribute):
        raise ModelNotFittedError(
            f"{type(model).__name__} is not fitted yet; call fit(...) before predicting"
        )
