"""Optimiser: exact solve equals brute force; decomposition near the optimum and feasible."""

from __future__ import annotations

import itertools
from datetime import date

import numpy as np
import pytest

from nextbest.decide import optimiser as opt
from nextbest.decide.arbitration import priorities
from nextbest.decide.context import synthetic_context
from tests.decide.conftest import default_catalogue, default_engine, default_policy


def random_problem(seed: int, n: int, m: int, r: int) -> opt.AllocationProblem:
    rng = np.random.default_rng(seed)
    weight = np.round(rng.uniform(-2, 10, (n, m)), 2)
    allowed = (rng.random((n, m)) < 0.7) & (weight > 0)
    usage = np.round(rng.uniform(0, 3, (r, m)), 1) * (rng.random((r, m)) < 0.7)
    limits = np.round(rng.uniform(1, n, r), 1)
    names = tuple(f"r{k}" for k in range(r))
    return opt.AllocationProblem(weight, allowed, usage, limits, names)


def independent_violations(p: opt.AllocationProblem, a: np.ndarray) -> list[str]:
    """Written apart from the optimiser: loop over customers, add up resources."""
    used = [0.0] * len(p.limits)
    out = []
    for i, j in enumerate(a.tolist()):
        if j < 0:
            continue
        if not p.allowed[i, j]:
            out.append(f"customer {i} got disallowed offer {j}")
        for k in range(len(p.limits)):
            used[k] += float(p.usage[k, j])
    out += [f"r{k} over" for k in range(len(p.limits)) if used[k] > p.limits[k] + 1e-6]
    return out


def brute_force(p: opt.AllocationProblem) -> float:
    n, m = p.shape
    best = 0.0
    for combo in itertools.product(range(-1, m), repeat=n):
        a = np.array(combo)
        if not independent_violations(p, a):
            best = max(best, opt.objective(p, a))
    return best


@pytest.mark.parametrize("seed", range(25))
def test_exact_equals_brute_force(seed: int) -> None:
    p = random_problem(seed, n=5, m=3, r=2)
    solution = opt.solve_exact(p)
    assert not independent_violations(p, solution.assignment)
    assert solution.objective == pytest.approx(brute_force(p), abs=1e-6)


@pytest.mark.parametrize("seed", range(10))
def test_decomposition_and_greedy_are_feasible(seed: int) -> None:
    p = random_problem(seed, n=300, m=6, r=3)
    lp = opt.solve_lp(p)
    for a in (opt.apply_duals(p, lp.duals), opt.greedy(p)):
        assert not independent_violations(p, a)
        assert 0 < opt.objective(p, a) <= lp.objective + 1e-6


def test_sample_duals_come_within_half_a_percent() -> None:
    """Dual prices of one sample, applied to another with scaled capacities."""
    catalogue, policy = default_catalogue(), default_policy()
    n = 24_000
    context = synthetic_context(n, catalogue.ids, seed=11)
    codes = default_engine().static_codes(context, date(2026, 6, 1))
    priority = priorities(context.propensity, context.value, catalogue, np.ones(len(catalogue)))
    bank = opt.build_problem(catalogue, policy.spec.optimisation, priority, codes == 0, scale=0.024)
    order = np.random.default_rng(0).permutation(n)
    first, second = order[: n // 4], order[n // 4 : n // 2]
    a, b = bank.take(first, 0.25), bank.take(second, 0.25)
    duals = opt.solve_lp(a).duals
    assert duals.max() > 0  # the phone capacity binds
    exact = opt.solve_exact(b)
    decomposed = opt.apply_duals(b, duals)
    assert not independent_violations(b, decomposed)
    assert opt.objective(b, decomposed) >= 0.995 * exact.objective
    assert opt.objective(b, opt.greedy(b)) <= exact.objective + 1e-6


def test_dominated_pairs_do_not_change_the_optimum() -> None:
    p = random_problem(3, n=200, m=8, r=2)
    slim = opt.reduced(p)
    assert slim.allowed.sum() < p.allowed.sum()
    assert opt.solve_exact(slim).objective == pytest.approx(opt.solve_exact(p).objective)


@pytest.mark.parametrize("seed", range(40))
def test_vectorised_greedy_equals_the_pair_loop(seed: int) -> None:
    p = random_problem(seed, n=[4, 60, 700, 2500][seed % 4], m=6, r=3)
    for chunk in (5, 1 << 18):
        assert (opt.greedy(p, chunk=chunk) == opt.greedy_loop(p)).all()
        partial = opt.greedy_loop(p)
        partial[::3] = -1
        assert (opt.greedy(p, partial, chunk=chunk) == opt.greedy_loop(p, partial)).all()


def test_choose_takes_the_first_best_positive_reduced_value() -> None:
    p = random_problem(7, n=500, m=6, r=3)
    p.weight[:, 4] = p.weight[:, 2]  # ties: the lower offer index wins
    duals = np.array([0.5, 0.0, 1.5])
    masked = np.where(p.allowed, p.weight, -np.inf) - (duals @ p.usage)[None, :]
    best = np.argmax(masked, axis=1)
    expected = np.where(masked[np.arange(500), best] > 0, best, -1)
    assert (opt._choose(opt._masked_columns(p), p.usage, duals) == expected).all()
