"""Personalised pricing inside policy bounds, with each price explained.

``loan_rate``: base + pd_slope × PD − loyalty discount of the customer's value tier (tier
chosen by the offer's value to the bank), clipped to [floor, ceiling]; an unknown PD prices
at the ceiling. ``deposit_bonus``: base + bonus of the AUM tier, clipped likewise. Rates are
in percent per year.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nextbest.decide.policies import PricingRuleSpec

__all__ = ["PriceExplanation", "explain_price", "price"]


def _tier_amount(rule: PricingRuleSpec, basis: np.ndarray) -> np.ndarray:
    if not rule.tiers:
        return np.zeros_like(basis, dtype=float)
    minimums = np.array([t[0] for t in rule.tiers])
    amounts = np.array([t[1] for t in rule.tiers])
    position = np.searchsorted(minimums, np.nan_to_num(basis, nan=-np.inf), side="right") - 1
    return np.where(position >= 0, amounts[np.clip(position, 0, None)], 0.0)


def price(rule: PricingRuleSpec, pd: np.ndarray, aum: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Vectorised prices for customers with these PDs, AUMs and offer values."""
    if rule.kind == "loan_rate":
        raw = rule.base + rule.pd_slope * pd - _tier_amount(rule, value)
        raw = np.where(np.isnan(pd), rule.ceiling, raw)
    else:
        raw = rule.base + _tier_amount(rule, aum)
    return np.round(np.clip(raw, rule.floor, rule.ceiling), 4)


@dataclass(frozen=True)
class PriceExplanation:
    rule: str
    kind: str
    base: float
    risk_premium: float
    tier_adjustment: float
    unclipped: float
    floor: float
    ceiling: float
    price: float


def explain_price(
    rule: PricingRuleSpec, pd: float | None, aum: float | None, value: float
) -> PriceExplanation:
    """The components of one price (same arithmetic as :func:`price`)."""
    pd_arr = np.array([np.nan if pd is None else pd])
    aum_arr = np.array([np.nan if aum is None else aum])
    value_arr = np.array([value])
    final = float(price(rule, pd_arr, aum_arr, value_arr)[0])
    if rule.kind == "loan_rate":
        premium = float("nan") if pd is None else rule.pd_slope * pd
        tier = -float(_tier_amount(rule, value_arr)[0])
        unclipped = rule.ceiling if pd is None else rule.base + premium + tier
    else:
        premium = 0.0
        tier = float(_tier_amount(rule, aum_arr)[0])
        unclipped = rule.base + tier
    return PriceExplanation(
        rule.name, rule.kind, rule.base, premium, tier, unclipped, rule.floor, rule.ceiling, final
    )
