"""Lifecycle stage per customer and as-of date, and month-over-month transitions.

Rules, evaluated on the feature snapshot; the first that matches wins, in this order:

1. ``churned`` — the project's churn definition (``docs/demo-bank.md``): has held a
   product and either (a) holds no deposit or investment account any more, or (b) has
   financial assets (AUM) under :data:`CHURN_MAX_AUM` CNY and no customer-initiated
   transaction for at least :data:`CHURN_SILENCE_DAYS` days (counted from the first product
   when there was none).
2. ``prospect`` — a known customer who has never held a product.
3. ``new`` — first product opened less than :data:`NEW_MONTHS` months ago.
4. ``dormant`` — no customer-initiated transaction or login for at least
   :data:`DORMANT_DAYS` days (counted from the first product if there was none), or AUM down
   by at least half over six months. Refinement: silence of 365 days or more stays
   ``dormant`` rather than falling through (the issue's window is 90–364 days; a silent
   customer who still holds assets is not churned by our definition).
5. ``mature`` — first product at least :data:`MATURE_MONTHS` months ago and at least
   :data:`MATURE_FAMILIES` product families held.
6. ``active`` — everything else. Refinement: the issue's "AUM growing or stable" is not
   required; a recently active customer whose AUM fell by less than half is ``active``
   (a fall of half or more is ``dormant`` by rule 4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import ibis
import numpy as np

from nextbest.profile.catalogue import FAMILY_GROUPS

__all__ = [
    "CHURN_MAX_AUM",
    "CHURN_SILENCE_DAYS",
    "DORMANT_DAYS",
    "MATURE_FAMILIES",
    "MATURE_MONTHS",
    "NEW_MONTHS",
    "STAGES",
    "Stage",
    "TransitionMatrix",
    "lifecycle_stages",
    "transition_matrix",
]

_ASSET_FAMILIES = tuple(f for f, g in FAMILY_GROUPS.items() if g in ("deposit", "investment"))
CHURN_SILENCE_DAYS = 90
CHURN_MAX_AUM = 100.0
NEW_MONTHS = 6
DORMANT_DAYS = 90
MATURE_MONTHS = 24
MATURE_FAMILIES = 3


class Stage(StrEnum):
    CHURNED = "churned"
    PROSPECT = "prospect"
    NEW = "new"
    DORMANT = "dormant"
    MATURE = "mature"
    ACTIVE = "active"

    @property
    def zh(self) -> str:
        return _ZH[self]


_ZH = {
    Stage.CHURNED: "流失",
    Stage.PROSPECT: "潜在客户",
    Stage.NEW: "新客",
    Stage.DORMANT: "沉睡",
    Stage.MATURE: "成熟",
    Stage.ACTIVE: "活跃",
}

#: Display order: the path through the lifecycle.
STAGES: tuple[Stage, ...] = (
    Stage.PROSPECT,
    Stage.NEW,
    Stage.ACTIVE,
    Stage.MATURE,
    Stage.DORMANT,
    Stage.CHURNED,
)


def _days_since(day: ibis.Value, as_of: ibis.Value) -> ibis.Value:
    return as_of.epoch_days() - day.epoch_days()


def lifecycle_stages(snapshot: ibis.Table) -> ibis.Table:
    """``as_of_date, customer_key, stage`` for every customer of a feature snapshot."""
    s = snapshot
    last_txn = s.last_txn_date
    since = last_txn.isnull().ifelse(
        s.first_product_date, ibis.greatest(last_txn, s.first_product_date)
    )
    silent_days = _days_since(since, s.as_of_date)
    activity_days = s.days_since_last_activity.fill_null(
        _days_since(s.first_product_date, s.as_of_date)
    )
    asset_held = ibis.or_(*(s[f"holds_{f}"] for f in _ASSET_FAMILIES))
    churned = s.ever_held & (
        ~asset_held | ((silent_days >= CHURN_SILENCE_DAYS) & (s.aum < CHURN_MAX_AUM))
    )
    dormant = (activity_days >= DORMANT_DAYS) | (s.aum_change_6m.fill_null(0.0) <= -0.5)
    mature = (s.months_since_first_product >= MATURE_MONTHS) & (s.family_count >= MATURE_FAMILIES)
    stage = ibis.cases(
        (churned, Stage.CHURNED.value),
        (~s.ever_held, Stage.PROSPECT.value),
        (s.months_since_first_product < NEW_MONTHS, Stage.NEW.value),
        (dormant, Stage.DORMANT.value),
        (mature, Stage.MATURE.value),
        else_=Stage.ACTIVE.value,
    )
    return s.select("as_of_date", "customer_key", stage=stage)


@dataclass(frozen=True)
class TransitionMatrix:
    """Counts of customers moving from one stage (rows) to another (columns)."""

    stages: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]

    def shares(self) -> tuple[tuple[float, ...], ...]:
        """Row-normalised counts (each row sums to 1, or 0 for an empty row)."""
        out = []
        for row in self.counts:
            total = sum(row)
            out.append(tuple(c / total if total else 0.0 for c in row))
        return tuple(out)


def transition_matrix(
    previous: Sequence[str | None], current: Sequence[str], stages: Sequence[str] | None = None
) -> TransitionMatrix:
    """Month-over-month transition counts of paired stages (customer by customer).

    A customer unknown in the previous month (``None``) is counted from ``prospect``.
    """
    names = tuple(stages or [s.value for s in STAGES])
    index = {s: i for i, s in enumerate(names)}
    counts = np.zeros((len(names), len(names)), dtype=np.int64)
    for before, after in zip(previous, current, strict=True):
        counts[index[before or Stage.PROSPECT.value], index[after]] += 1
    return TransitionMatrix(names, tuple(tuple(int(c) for c in row) for row in counts))
