"""Arbitration: priority = propensity × value × lever × context weight; best survivor wins.

This is the greedy rule of commercial decision hubs, applied per customer. The global
optimiser (:mod:`nextbest.decide.optimiser`) replaces the per-customer choice when budgets
and channel capacities bind.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from nextbest.decide.offers import OfferCatalogue
from nextbest.decide.policies import ArbitrationSpec

__all__ = ["context_weights", "pick_winners", "priorities"]


def context_weights(
    catalogue: OfferCatalogue, spec: ArbitrationSpec, request: Mapping[str, str] | None
) -> np.ndarray:
    """Per-offer multiplier from real-time context (all ones without context)."""
    weights = np.ones(len(catalogue))
    if not request:
        return weights
    for rule in spec.context_weights:
        if str(request.get(rule.key, "")).lower() != rule.equals.lower():
            continue
        for j, offer in enumerate(catalogue):
            if not rule.channels or offer.channel in rule.channels:
                weights[j] *= rule.weight
    return weights


def priorities(
    propensity: np.ndarray, value: np.ndarray, catalogue: OfferCatalogue, weights: np.ndarray
) -> np.ndarray:
    """The priority matrix (customers × offers), before any rule is applied."""
    levers = np.array([o.lever for o in catalogue]) * weights
    return propensity * value * levers


def pick_winners(priority: np.ndarray, survives: np.ndarray, min_priority: float) -> np.ndarray:
    """Column of the highest-priority survivor per row, or -1 (ties: first offer wins)."""
    masked = np.where(survives, priority, -np.inf)
    best = np.argmax(masked, axis=1)
    top = masked[np.arange(len(best)), best]
    return np.where(top > min_priority, best, -1)
