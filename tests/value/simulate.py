"""Seeded simulation of customers who behave exactly as the BG/NBD model says."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SimulatedCohort:
    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    holdout_purchases: np.ndarray


def simulate_bgnbd(
    n: int, r: float, alpha: float, a: float, b: float, T: float, horizon: float, seed: int
) -> SimulatedCohort:
    """Customers all first buying at time 0, observed to ``T`` and then for ``horizon`` more."""
    rng = np.random.default_rng(seed)
    rates = rng.gamma(r, 1.0 / alpha, n)
    dropout = rng.beta(a, b, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    future = np.zeros(n)
    for i in range(n):
        now = 0.0
        while True:
            now += rng.exponential(1.0 / rates[i])
            if now > T + horizon:
                break
            if now <= T:
                x[i] += 1
                t_x[i] = now
            else:
                future[i] += 1
            # Dropout can follow any repeat purchase (not the first purchase at time 0:
            # the likelihood of x = 0 is e^(-λT), so everybody is alive until a repeat).
            if rng.random() < dropout[i]:
                break
    return SimulatedCohort(x, t_x, np.full(n, T), future)
