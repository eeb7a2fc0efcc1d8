"""Global optimisation: choose at most one offer per customer to maximise expected net value
subject to campaign budgets, channel capacities and product volume caps.

``maximise Σ w_ij x_ij  s.t.  Σ_j x_ij ≤ 1 (each customer),  Σ_ij u_rj x_ij ≤ L_r
(each resource r),  x_ij ∈ {0, 1}``, where ``w_ij`` = priority − cost per contact and only
pairs that survived every policy rule are variables (so no solution can break a policy).

* :func:`solve_exact` — HiGHS MILP through ``scipy.optimize.milp`` (samples up to ~50k
  customers); reports the solver's bound and gap.
* :func:`solve_lp` — the LP relaxation; its dual prices value each resource.
* :func:`apply_duals` — the decomposition for the whole bank: each customer takes the offer
  with the best *reduced* value ``w_ij − Σ_r λ_r u_rj`` (λ from a sample's LP), then a
  feasibility repair drops the least valuable assignments of any over-used resource and a
  fill pass uses the slack that is left.
* :func:`greedy` — the baseline: pairs in descending value, taken while they fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from nextbest.decide.errors import DecisionError
from nextbest.decide.offers import OfferCatalogue
from nextbest.decide.policies import OptimisationSpec

__all__ = [
    "AllocationProblem",
    "ExactSolution",
    "LpSolution",
    "apply_duals",
    "build_problem",
    "calibrate_duals",
    "greedy",
    "greedy_loop",
    "objective",
    "solve_exact",
    "solve_lp",
    "violations",
]

_EPS = 1e-9


@dataclass(frozen=True, eq=False)
class AllocationProblem:
    """An assignment instance.

    Attributes
    ----------
    weight:
        (customers, offers) net value of making the offer.
    allowed:
        (customers, offers) pairs that may be chosen (survived every rule, positive value).
    usage:
        (resources, offers) how much of each resource one offer consumes.
    limits:
        (resources,) capacity of each resource.
    resource_names:
        e.g. ``budget:wealth``, ``channel:phone``, ``product:fund_equity``.
    """

    weight: np.ndarray
    allowed: np.ndarray
    usage: np.ndarray
    limits: np.ndarray
    resource_names: tuple[str, ...]

    @property
    def shape(self) -> tuple[int, int]:
        return self.weight.shape

    def take(self, rows: np.ndarray, scale: float = 1.0) -> AllocationProblem:
        """A sub-instance of ``rows`` with every limit multiplied by ``scale``."""
        return AllocationProblem(
            self.weight[rows], self.allowed[rows], self.usage, self.limits * scale,
            self.resource_names,
        )  # fmt: skip


def build_problem(
    catalogue: OfferCatalogue,
    spec: OptimisationSpec,
    priority: np.ndarray,
    survives: np.ndarray,
    *,
    scale: float = 1.0,
) -> AllocationProblem:
    """The allocation instance of a policy's optimisation section (limits × ``scale``)."""
    cost = np.array([o.cost_per_contact for o in catalogue])
    weight = priority - cost[None, :]
    rows: list[np.ndarray] = []
    limits: list[float] = []
    names: list[str] = []
    for campaign, budget in sorted(spec.budgets.items()):
        rows.append(np.array([o.cost_per_contact if o.campaign_id == campaign else 0.0
                              for o in catalogue]))  # fmt: skip
        limits.append(budget * scale)
        names.append(f"budget:{campaign}")
    for channel, capacity in sorted(spec.channel_capacity.items()):
        rows.append(np.array([1.0 if o.channel == channel else 0.0 for o in catalogue]))
        limits.append(capacity * scale)
        names.append(f"channel:{channel.value}")
    for product, volume in sorted(spec.product_max_volume.items()):
        rows.append(np.array([1.0 if o.product_id == product else 0.0 for o in catalogue]))
        limits.append(volume * scale)
        names.append(f"product:{product}")
    usage = np.vstack(rows) if rows else np.zeros((0, len(catalogue)))
    return AllocationProblem(
        weight, survives & (weight > 0), usage, np.array(limits, float), tuple(names)
    )


def objective(problem: AllocationProblem, assignment: np.ndarray) -> float:
    """Total value of an assignment (offer column per customer, -1 for none)."""
    chosen = assignment >= 0
    return float(problem.weight[np.flatnonzero(chosen), assignment[chosen]].sum())


def resource_use(problem: AllocationProblem, assignment: np.ndarray) -> np.ndarray:
    counts = np.bincount(assignment[assignment >= 0], minlength=problem.shape[1])
    return problem.usage @ counts


def violations(problem: AllocationProblem, assignment: np.ndarray) -> list[str]:
    """Every broken constraint of ``assignment`` (empty when feasible)."""
    problems = []
    rows = np.flatnonzero(assignment >= 0)
    if rows.size and not problem.allowed[rows, assignment[rows]].all():
        problems.append("assignment uses a pair that is not allowed")
    for name, used, limit in zip(
        problem.resource_names, resource_use(problem, assignment), problem.limits, strict=True
    ):
        if used > limit + 1e-6:
            problems.append(f"{name}: uses {used:.2f} of {limit:.2f}")
    return problems


def undominated(problem: AllocationProblem) -> np.ndarray:
    """``allowed`` minus pairs that can never be needed in an optimum.

    Pair (i, j) is dominated when customer i has an allowed offer k worth at least as much
    that uses no more of any resource: swapping j for k in any solution keeps it feasible
    and loses nothing, so removing (i, j) keeps the optimum exact. With few resources most
    offers are dominated, which shrinks the solver's problem several-fold.
    """
    m = problem.shape[1]
    keep = problem.allowed.copy()
    usage = problem.usage
    for j in range(m):
        for k in range(m):
            if k == j or not (usage[:, k] <= usage[:, j]).all():
                continue
            same = (usage[:, k] == usage[:, j]).all()
            wk, wj = problem.weight[:, k], problem.weight[:, j]
            # Equal use and equal weight: keep the lower index only, so one of them stays.
            better = (wk > wj) | ((wk == wj) & (not same or k < j))
            keep[:, j] &= ~(problem.allowed[:, k] & better)
    return keep


def binding_resources(problem: AllocationProblem) -> np.ndarray:
    """Resources that some assignment could over-use (the others are redundant)."""
    if not len(problem.limits):
        return np.zeros(0, bool)
    most = np.where(problem.allowed[:, None, :], problem.usage[None, :, :], 0.0).max(axis=2)
    return most.sum(axis=0) > problem.limits + 1e-9


def reduced(problem: AllocationProblem) -> AllocationProblem:
    """The same optimum with redundant resources and dominated pairs removed (exact)."""
    keep = binding_resources(problem)
    slim = AllocationProblem(
        problem.weight, problem.allowed, problem.usage[keep], problem.limits[keep],
        tuple(n for n, k in zip(problem.resource_names, keep, strict=True) if k),
    )  # fmt: skip
    return AllocationProblem(
        slim.weight, undominated(slim), slim.usage, slim.limits, slim.resource_names
    )


def _constraints(problem: AllocationProblem, rows: np.ndarray, cols: np.ndarray):
    # One "at most one offer" row per customer with two or more candidates; a customer
    # with a single candidate is already bounded by the variable's own upper bound of 1.
    n = problem.shape[0]
    k = rows.size
    per_customer = np.bincount(rows, minlength=n)
    multi = per_customer[rows] > 1
    row_ids = np.cumsum(per_customer > 1) - 1
    one_per_customer = sparse.csr_array(
        (np.ones(int(multi.sum())), (row_ids[rows[multi]], np.flatnonzero(multi))),
        shape=(int((per_customer > 1).sum()), k),
    )
    use = problem.usage[:, cols]
    matrix = sparse.vstack([one_per_customer, sparse.csr_array(use)]).tocsr()
    upper = np.concatenate([np.ones(one_per_customer.shape[0]), problem.limits])
    return matrix, upper, one_per_customer.shape[0]


@dataclass(frozen=True)
class ExactSolution:
    assignment: np.ndarray
    objective: float
    bound: float
    gap: float
    status: str


@dataclass(frozen=True)
class LpSolution:
    objective: float
    duals: np.ndarray


def solve_exact(
    problem: AllocationProblem, *, time_limit: float = 120.0, mip_rel_gap: float = 1e-7
) -> ExactSolution:
    """Solve the integer programme with HiGHS; ``bound`` is the solver's upper bound."""
    slim = reduced(problem)
    rows, cols = np.nonzero(slim.allowed)
    assignment = np.full(problem.shape[0], -1)
    if rows.size == 0:
        return ExactSolution(assignment, 0.0, 0.0, 0.0, "empty")
    matrix, upper, _ = _constraints(slim, rows, cols)
    result = milp(
        -problem.weight[rows, cols],
        constraints=LinearConstraint(matrix, -np.inf, upper),
        integrality=np.ones(rows.size),
        bounds=Bounds(0, 1),
        options={"time_limit": time_limit, "mip_rel_gap": mip_rel_gap, "presolve": True},
    )
    if result.x is None:
        raise DecisionError(f"optimisation failed: {result.message}")
    chosen = result.x > 0.5
    assignment[rows[chosen]] = cols[chosen]
    value = objective(problem, assignment)
    bound = -float(result.mip_dual_bound) if result.mip_dual_bound is not None else value
    gap = 0.0 if bound <= 0 else max(0.0, (bound - value) / bound)
    return ExactSolution(assignment, value, max(bound, value), gap, result.message)


def solve_lp(problem: AllocationProblem) -> LpSolution:
    """LP relaxation: its optimum (an upper bound) and one dual price per resource."""
    keep = binding_resources(problem)
    slim = reduced(problem)
    duals = np.zeros(len(problem.limits))
    rows, cols = np.nonzero(slim.allowed)
    if rows.size == 0:
        return LpSolution(0.0, duals)
    matrix, upper, customer_rows = _constraints(slim, rows, cols)
    result = linprog(
        -slim.weight[rows, cols], A_ub=matrix, b_ub=upper, bounds=(0, 1), method="highs"
    )
    if result.status != 0:
        raise DecisionError(f"LP relaxation failed: {result.message}")
    marginals = -np.asarray(result.ineqlin.marginals)
    duals[keep] = np.maximum(marginals[customer_rows:], 0.0)
    return LpSolution(-float(result.fun), duals)


def greedy(
    problem: AllocationProblem, assignment: np.ndarray | None = None, *, chunk: int = 262_144
) -> np.ndarray:
    """Take pairs in descending value while the customer is free and every resource fits.

    With ``assignment`` given, only its unassigned customers are filled (used after
    :func:`apply_duals`' repair).

    Vectorised but equal to the one-pair-at-a-time loop (:func:`greedy_loop`): walking the
    sorted pairs a chunk at a time, every pair before the first one that does not fit is
    taken exactly as the loop would (first pair of each free customer, resources added up
    with a cumulative sum); the pair that does not fit exhausts its offer for good (slack
    only shrinks), so there are at most as many restarts as offers.
    """
    n, m = problem.shape
    result = np.full(n, -1) if assignment is None else assignment.copy()
    slack = problem.limits - resource_use(problem, result)
    free = result < 0
    rows, cols = np.nonzero(problem.allowed & free[:, None])
    order = np.argsort(-problem.weight[rows, cols], kind="stable")
    rows, cols = rows[order], cols[order]
    usage = problem.usage
    exhausted = np.zeros(m, bool)
    pos, total = 0, rows.size
    while pos < total and not exhausted.all():
        r, c = rows[pos : pos + chunk], cols[pos : pos + chunk]
        live = np.flatnonzero(free[r] & ~exhausted[c])
        if live.size:
            _, first = np.unique(r[live], return_index=True)
            live = live[np.sort(first)]  # each customer's first live pair, in value order
        if not live.size:
            pos += r.size
            continue
        cum = np.cumsum(usage[:, c[live]], axis=1)
        fits = (cum <= slack[:, None] + _EPS).all(axis=0)
        stop = int(np.argmin(fits)) if not fits.all() else live.size
        taken = live[:stop]
        result[r[taken]] = c[taken]
        free[r[taken]] = False
        if stop:
            slack = slack - cum[:, stop - 1]
        if stop == live.size:
            pos += r.size
        else:
            exhausted[c[live[stop]]] = True  # later pairs of this offer are worth less
            pos += int(live[stop]) + 1
    return result


def greedy_loop(problem: AllocationProblem, assignment: np.ndarray | None = None) -> np.ndarray:
    """:func:`greedy` one pair at a time (the reference it is tested against)."""
    n, m = problem.shape
    result = np.full(n, -1) if assignment is None else assignment.copy()
    slack = problem.limits - resource_use(problem, result)
    free = result < 0
    rows, cols = np.nonzero(problem.allowed & free[:, None])
    order = np.argsort(-problem.weight[rows, cols], kind="stable")
    rows, cols = rows[order], cols[order]
    usage = problem.usage
    exhausted = np.zeros(m, bool)
    for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
        if exhausted[j] or not free[i]:
            continue
        need = usage[:, j]
        if (need <= slack + _EPS).all():
            result[i] = j
            free[i] = False
            slack -= need
        else:
            exhausted[j] = True  # later pairs of this offer are worth less: none will fit
            if exhausted.all():
                break
    return result


def _choose(columns: np.ndarray, usage: np.ndarray, duals: np.ndarray) -> np.ndarray:
    """Per customer, the offer with the best positive reduced value (first on ties), or -1.

    ``columns`` is the (offers, customers) matrix of weights, ``-inf`` where not allowed
    (one contiguous row per offer: a loop over offers beats ``argmax`` along a short axis).
    """
    penalty = duals @ usage
    best = np.full(columns.shape[1], -1)
    top = np.zeros(columns.shape[1])
    for j in range(columns.shape[0]):
        value = columns[j] - penalty[j]
        better = value > top
        best[better] = j
        np.maximum(top, value, out=top)
    return best


def _masked_columns(problem: AllocationProblem) -> np.ndarray:
    return np.ascontiguousarray(np.where(problem.allowed, problem.weight, -np.inf).T)


def calibrate_duals(
    problem: AllocationProblem, duals: np.ndarray, iterations: int = 14
) -> np.ndarray:
    """Adjust sample duals to the whole population, one resource at a time.

    Dual prices from a sample are estimates; a resource over-used at those prices gets a
    higher price (bisection until it fits) and one left idle with a positive price gets a
    lower one, so the decomposition uses scarce capacity where it is worth most.
    """
    masked = _masked_columns(problem)
    duals = duals.astype(float).copy()
    top_weight = float(np.max(problem.weight, initial=0.0))
    for r in range(len(problem.limits)):
        unit = problem.usage[r][problem.usage[r] > 0]
        if not unit.size:
            continue

        def used(price: float, r: int = r) -> float:
            trial = duals.copy()
            trial[r] = price
            return float(resource_use(problem, _choose(masked, problem.usage, trial))[r])

        limit = problem.limits[r]
        now = used(duals[r])
        if now > limit:
            lo, hi = duals[r], top_weight / unit.min() + 1.0
        elif duals[r] > 0 and now < limit:
            lo, hi = 0.0, duals[r]
        else:
            continue
        for _ in range(iterations):
            mid = (lo + hi) / 2
            if used(mid) > limit:
                lo = mid
            else:
                hi = mid
        duals[r] = hi  # the feasible side
    return duals


def apply_duals(
    problem: AllocationProblem, duals: np.ndarray, *, calibrate: bool = True
) -> np.ndarray:
    """Decomposition: best reduced value per customer, then repair and fill (feasible)."""
    if calibrate:
        duals = calibrate_duals(problem, duals)
    assignment = _choose(_masked_columns(problem), problem.usage, duals)
    # Repair: for each over-used resource, drop its lowest value-per-unit assignments.
    for r in range(len(problem.limits)):
        used = resource_use(problem, assignment)[r]
        if used <= problem.limits[r] + 1e-6:
            continue
        on_r = problem.usage[r, np.maximum(assignment, 0)] > 0
        users = np.flatnonzero((assignment >= 0) & on_r)
        per_unit = problem.weight[users, assignment[users]] / problem.usage[r, assignment[users]]
        order = users[np.argsort(per_unit, kind="stable")]
        cumulative = np.cumsum(problem.usage[r, assignment[order]])
        drop = np.searchsorted(cumulative, used - problem.limits[r] - 1e-9) + 1
        assignment[order[:drop]] = -1
    return greedy(problem, assignment)
