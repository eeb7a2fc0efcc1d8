"""The latent lifecycle: a per-customer Markov chain over months that drives behaviour.

States: prospect, new, active, mature, dormant, churned. Churn comes either suddenly from
active/mature (rare, frailty-driven) or after a dormant spell in which activity and balances
wind down. The chain's own transition matrices give the true churn hazard and the exact
probability of churning within the next three months, written as ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nextbest.demo.world.calendar import Window
from nextbest.demo.world.params import WorldParams
from nextbest.demo.world.population import Population

__all__ = ["ACTIVE", "CHURNED", "DORMANT", "MATURE", "NEW", "PROSPECT", "Lifecycle", "simulate"]

PROSPECT, NEW, ACTIVE, MATURE, DORMANT, CHURNED = range(6)
_S = 6


@dataclass(frozen=True)
class Lifecycle:
    state: np.ndarray  # (n, months) int8
    hazard: np.ndarray  # (n, months) P(churn during month m+1 | state at m)
    churn_3m: np.ndarray  # (n, months) P(churn during months m+1..m+3 | state at m)
    churn_day: np.ndarray  # day number, -1 if the customer stays
    closes_all: np.ndarray  # bool: churner closes every account (else leaves < 100 CNY)
    onboard_month: np.ndarray  # month index of onboarding (-1 before the window)

    def active_fraction(self, window: Window, onboarding_day: np.ndarray) -> np.ndarray:
        """(n, months) share of each month the customer was a customer (onboarded, not gone)."""
        starts = window.starts[:-1][None, :]
        ends = window.starts[1:][None, :]
        begin = np.maximum(starts, onboarding_day[:, None])
        leave = np.where(self.churn_day >= 0, self.churn_day, np.iinfo(np.int64).max)[:, None]
        stop = np.minimum(ends, leave)
        return np.clip(stop - begin, 0, None) / (ends - starts)


def _transitions(
    params: WorldParams,
    segment: np.ndarray,
    frailty: np.ndarray,
    season: float,
    graduate: np.ndarray,
    onboard_next: np.ndarray,
) -> np.ndarray:
    """(n, 6, 6) transition matrices for one month step."""
    lc = params.lifecycle
    n = len(segment)
    t = np.zeros((n, _S, _S))
    t[:, PROSPECT, NEW] = onboard_next
    t[:, PROSPECT, PROSPECT] = 1 - onboard_next
    new_churn = np.minimum(np.asarray(lc.new_churn)[segment] * frailty * season, 0.5)
    t[:, NEW, CHURNED] = new_churn
    t[:, NEW, ACTIVE] = (1 - new_churn) * graduate
    t[:, NEW, NEW] = (1 - new_churn) * (1 - graduate)
    sudden = np.minimum(np.asarray(lc.sudden_churn)[segment] * frailty * season, 0.3)
    dormant = np.minimum(np.asarray(lc.to_dormant)[segment] * frailty, 0.5)
    t[:, ACTIVE, CHURNED] = sudden
    t[:, ACTIVE, DORMANT] = dormant
    t[:, ACTIVE, MATURE] = lc.to_mature
    t[:, ACTIVE, ACTIVE] = 1 - sudden - dormant - lc.to_mature
    t[:, MATURE, CHURNED] = sudden
    t[:, MATURE, DORMANT] = dormant * lc.mature_dormant_factor
    t[:, MATURE, MATURE] = 1 - sudden - dormant * lc.mature_dormant_factor
    d_churn = min(lc.dormant_churn * season, 0.9)
    t[:, DORMANT, CHURNED] = d_churn
    t[:, DORMANT, ACTIVE] = lc.reactivate
    t[:, DORMANT, DORMANT] = 1 - d_churn - lc.reactivate
    t[:, CHURNED, CHURNED] = 1.0
    return t


def simulate(
    params: WorldParams, window: Window, pop: Population, rng: np.random.Generator
) -> Lifecycle:
    """Run the chain month by month (vectorised over customers)."""
    lc = params.lifecycle
    n, months = pop.size, window.months
    onboard_month = window.month_index(pop.onboarding_day)
    tenure_months_at_start = (window.first_day - pop.onboarding_day) / 30.44

    # state in month 0
    state0 = np.full(n, PROSPECT, dtype=np.int8)
    established = onboard_month < 0
    young = established & (tenure_months_at_start < lc.new_months)
    stationary_dormant = np.asarray(lc.to_dormant)[pop.segment] * pop.frailty
    stationary_dormant = stationary_dormant / (
        stationary_dormant + lc.dormant_churn + lc.reactivate
    )
    u = rng.random(n)
    mature = rng.random(n) < lc.mature_share_at_start * np.minimum(tenure_months_at_start / 36, 1)
    state0[established] = np.where(
        u < stationary_dormant, DORMANT, np.where(mature, MATURE, ACTIVE)
    )[established]
    state0[young] = NEW
    state0[onboard_month == 0] = NEW

    # transition matrices per step, reused for sampling and for the 3-month churn probability
    steps = []
    for m in range(months + 2):
        nxt = m + 1
        moy = int((window.month_of_year[0] - 1 + nxt) % 12 + 1)
        season = lc.season.get(moy, 1.0)
        months_on_book_next = nxt - onboard_month
        graduate = np.where(
            onboard_month >= 0,
            months_on_book_next >= lc.new_months,
            tenure_months_at_start + nxt >= lc.new_months,
        )
        steps.append(
            _transitions(
                params,
                pop.segment,
                pop.frailty,
                season,
                graduate.astype(float),
                (onboard_month == nxt).astype(float),
            )
        )

    state = np.empty((n, months), dtype=np.int8)
    state[:, 0] = state0
    rows = np.arange(n)
    for m in range(1, months):
        probs = steps[m - 1][rows, state[:, m - 1]]
        cum = np.cumsum(probs, axis=1)
        draw = rng.random(n)[:, None]
        state[:, m] = np.minimum((draw > cum).sum(axis=1), _S - 1)

    hazard = np.empty((n, months), dtype=np.float32)
    churn_3m = np.empty((n, months), dtype=np.float32)
    eye = np.eye(_S)
    for m in range(months):
        dist = eye[state[:, m]]
        hazard[:, m] = steps[m][rows, state[:, m], CHURNED] * (state[:, m] != CHURNED)
        for k in range(3):
            dist = np.einsum("ni,nij->nj", dist, steps[m + k] if m + k < len(steps) else steps[-1])
        churn_3m[:, m] = dist[:, CHURNED] * (state[:, m] != CHURNED)

    churned = state == CHURNED
    first = np.where(churned.any(axis=1), churned.argmax(axis=1), -1)
    lengths = window.month_length
    offset = (rng.random(n) * lengths[np.maximum(first, 0)]).astype(np.int64)
    churn_day = np.where(first >= 0, window.starts[np.maximum(first, 0)] + offset, -1)
    churn_day = np.where(first >= 0, np.maximum(churn_day, pop.onboarding_day + 1), -1)
    closes_all = rng.random(n) < lc.close_all_share
    return Lifecycle(state, hazard, churn_3m, churn_day, closes_all, onboard_month)
