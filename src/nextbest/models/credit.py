"""Credit default: the 90+ DPD target, the customer-holdout design and PD bands.

The scorecard's label is the Basel-style default definition: a customer *defaults* in
(T, T + 12 months] when, in that window, an instalment reaches 90 days past due (unpaid on
its due date + 90 days; paid on that very day still counts) or a default event is recorded.
Both are read from the warehouse as known at the label cut-off.

A 12-month horizon needs 12 months of outcomes after T, and the snapshot of T needs some
history before it. A bank with 24 months of data cannot also hold out a later period with
its own 12-month outcomes, so the design is not out of time: every as-of date ends its label
window within the data, and validation is a seeded *customer* holdout — a customer's rows
at all as-of dates go to the same side, so no customer is both trained on and validated.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import ibis
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from nextbest.models.training_sets import (
    LIVE_STAGES,
    MODEL_FEATURES,
    SnapshotFrames,
    Target,
    TrainingSet,
    TrainingSetError,
    WarehouseReader,
    labelled_point,
)
from nextbest.profile.features import known_at, shift_month_end

__all__ = [
    "CREDIT_FAMILIES",
    "DEFAULT_DPD",
    "PD_BANDS",
    "SCORECARD_FEATURES",
    "CreditDefaultTarget",
    "CustomerHoldout",
    "HoldoutDesign",
    "build_holdout_set",
    "defaulters",
    "has_credit",
    "pd_band",
    "scorecard_design",
]

#: Product families that carry credit exposure (``holds_<family>`` snapshot columns).
CREDIT_FAMILIES: tuple[str, ...] = ("credit_card", "consumer_loan", "mortgage", "car_loan")
#: Days past due at which an instalment counts as a default.
DEFAULT_DPD = 90

#: Candidate characteristics of the scorecard; IV selection picks among them. Left out:
#: gender and province (protected or proxy attributes a credit decision must not use), the
#: default flags (constant in the eligible population) and the spending/channel mix shares
#: (many weak, correlated columns that make a table nobody can review).
SCORECARD_FEATURES: tuple[str, ...] = (
    "age",
    "annual_income",
    "tenure_months",
    "occupation",
    "education",
    "city_tier",
    "product_count",
    "family_count",
    "months_since_first_product",
    *(f"holds_{f}" for f in CREDIT_FAMILIES),
    "aum",
    "deposit_adb",
    "investment_adb",
    "loan_balance",
    "aum_trend_3m",
    "annual_margin",
    "days_since_last_txn",
    "txn_count_90d",
    "txn_amount_90d",
    "txn_count_trend_3m",
    "spend_amount_365d",
    "salary_months_6m",
    "salary_avg_6m",
    "logins_90d",
    "days_since_last_activity",
    "credit_limit",
    "card_balance",
    "credit_utilisation",
    "days_past_due",
    "risk_level",
)

#: PD bands: upper bounds (inclusive) and names; the last band is open. ``high`` ends at the
#: default policy's credit threshold (``pd <= 0.08``), so ``very_high`` fails it.
PD_BANDS: tuple[tuple[float, str], ...] = (
    (0.005, "very_low"),
    (0.01, "low"),
    (0.03, "medium"),
    (0.08, "high"),
    (float("inf"), "very_high"),
)


def pd_band(probability: NDArray[np.float64]) -> NDArray[np.str_]:
    """Band name of each PD (see :data:`PD_BANDS`)."""
    bounds = np.array([b for b, _ in PD_BANDS[:-1]])
    names = np.array([n for _, n in PD_BANDS])
    return names[np.searchsorted(bounds, np.asarray(probability, dtype=float), side="left")]


def has_credit(snapshot: pd.DataFrame) -> pd.Series:
    """Boolean mask: the customer holds a product of a credit family at the snapshot date."""
    held = [snapshot[f"holds_{f}"].fillna(False).astype(bool) for f in CREDIT_FAMILIES]
    return pd.concat(held, axis=1).any(axis=1)


def defaulters(
    source: WarehouseReader, cutoff: datetime, start: date, end: date, dpd: int = DEFAULT_DPD
) -> set[str]:
    """Customer keys that default in (start, end], from the tables as known at ``cutoff``.

    An instalment defaults on ``due_date + dpd`` days if it is unpaid then (no payment
    date, or paid on or after that day); a ``default_event`` defaults on its date.
    """
    i = known_at(source, "credit_instalment", cutoff)
    # due + dpd in (start, end]  <=>  due in (start - dpd, end - dpd]
    i = i.filter(
        (i.due_date > ibis.literal(start - timedelta(days=dpd)))
        & (i.due_date <= ibis.literal(end - timedelta(days=dpd)))
        & (i.paid_date.isnull() | (i.paid_date.epoch_days() - i.due_date.epoch_days() >= dpd))
    )
    d = known_at(source, "default_event", cutoff)
    d = d.filter((d.default_date > ibis.literal(start)) & (d.default_date <= ibis.literal(end)))
    keys = i.select("customer_key").union(d.select("customer_key"), distinct=True)
    return set(source.to_arrow(keys).column("customer_key").to_pylist())


@dataclass(frozen=True)
class CreditDefaultTarget:
    """Default (90+ DPD or a default event) in (T, T + h] of live credit customers.

    Eligible at T: a live lifecycle stage, holding a credit family, fewer than ``dpd`` days
    past due and no default event on or before T (a customer already in default is not
    scored for a new one).
    """

    dpd: int = DEFAULT_DPD
    name: str = "default_90dpd"

    def eligible(self, snapshot: pd.DataFrame) -> pd.Series:
        return (
            snapshot["stage"].isin(LIVE_STAGES)
            & has_credit(snapshot)
            & (snapshot["days_past_due"].fillna(0) < self.dpd)
            & ~snapshot["defaulted_ever"].fillna(False).astype(bool)
        )

    def labels(
        self, labels_from: SnapshotFrames, start: date, end: date, customers: pd.Series
    ) -> np.ndarray:
        bad = defaulters(labels_from.source, labels_from.load_cutoff, start, end, self.dpd)
        return customers.isin(bad).to_numpy(np.int64)


@dataclass(frozen=True)
class CustomerHoldout:
    """A seeded share of customers kept for validation, decided by a hash of the key.

    The same key and seed always land on the same side, whatever the row order or the
    as-of date, so a customer's rows never straddle training and validation.
    """

    share: float = 0.3
    seed: int = 42

    def __post_init__(self) -> None:
        if not 0.0 < self.share < 1.0:
            raise TrainingSetError(f"holdout share must be in (0, 1), got {self.share}")

    def contains(self, keys: Sequence[str] | pd.Series) -> NDArray[np.bool_]:
        """True for the keys in the holdout."""
        salt = f"{self.seed}:".encode()
        digests = b"".join(
            hashlib.blake2b(salt + str(k).encode(), digest_size=8).digest() for k in keys
        )
        draws = np.frombuffer(digests, dtype="<u8") / float(2**64)
        return np.asarray(draws < self.share, dtype=bool)


@dataclass(frozen=True)
class HoldoutDesign:
    """As-of dates, horizon and cut-offs of a customer-holdout training set.

    Attributes
    ----------
    as_of:
        As-of dates (month ends); each contributes one row per eligible customer.
    horizon_months:
        h: labels come from (T, T + h months].
    feature_cutoff:
        Latest load time of rows features and labels may read.
    holdout:
        Which customers are validated on.
    timezone:
        The bank's time zone.
    """

    as_of: tuple[date, ...]
    horizon_months: int
    feature_cutoff: datetime
    holdout: CustomerHoldout
    timezone: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        if self.horizon_months < 1:
            raise TrainingSetError(f"horizon must be at least 1 month, got {self.horizon_months}")
        if not self.as_of:
            raise TrainingSetError("at least one as-of date is needed")
        odd = [t for t in self.as_of if t != shift_month_end(t, 0)]
        if odd:
            raise TrainingSetError(f"as-of dates must be month ends: {odd[0].isoformat()}")

    def horizon_end(self, as_of: date) -> date:
        return shift_month_end(as_of, self.horizon_months)

    @property
    def data_window(self) -> tuple[str, str]:
        """First as-of date and last label date (ISO)."""
        return min(self.as_of).isoformat(), self.horizon_end(max(self.as_of)).isoformat()

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": [t.isoformat() for t in self.as_of],
            "horizon_months": self.horizon_months,
            "feature_cutoff": self.feature_cutoff.isoformat(),
            "label_cutoff": self.feature_cutoff.isoformat(),
            "timezone": self.timezone,
            "validation": (
                f"customer holdout: {self.holdout.share:.0%} of customers by a hash of the "
                f"key with seed {self.holdout.seed}, all their as-of dates; not out of time"
            ),
            "data_window": list(self.data_window),
        }


def scorecard_design(
    first_data_day: date,
    last_data_day: date,
    feature_cutoff: datetime,
    *,
    points: int = 3,
    spacing_months: int = 3,
    horizon_months: int = 12,
    holdout: CustomerHoldout | None = None,
    timezone: str = "Asia/Shanghai",
) -> HoldoutDesign:
    """As-of dates whose label windows end within the data: the latest is h months before
    the last full month end, earlier ones ``spacing_months`` apart.

    Raises
    ------
    TrainingSetError
        Naming ``points`` when the earliest as-of date would fall before the end of the
        first full month of data.
    """
    last = shift_month_end(last_data_day, 0)
    if last > last_data_day:
        last = shift_month_end(last, -1)
    latest = shift_month_end(last, -horizon_months)
    as_of = tuple(sorted(shift_month_end(latest, -spacing_months * i) for i in range(points)))
    # the end of the first full month of data
    first = shift_month_end(first_data_day - timedelta(days=1), 1)
    if as_of[0] < first:
        months = (latest.year - first.year) * 12 + latest.month - first.month
        possible = 1 + months // spacing_months if months >= 0 else 0
        raise TrainingSetError(
            f"points={points}: the earliest as-of date {as_of[0].isoformat()} is before the "
            f"end of the first full month of data ({first.isoformat()}); data from "
            f"{first_data_day.isoformat()} to {last_data_day.isoformat()} allows {possible} "
            f"point(s) {spacing_months} months apart with a {horizon_months}-month horizon"
        )
    return HoldoutDesign(as_of, horizon_months, feature_cutoff, holdout or CustomerHoldout(),
                         timezone)  # fmt: skip


def build_holdout_set(
    source: WarehouseReader,
    design: HoldoutDesign,
    target: Target,
    *,
    features: Sequence[str] = SCORECARD_FEATURES,
    frames: SnapshotFrames | None = None,
    on_point: Callable[[date], None] | None = None,
) -> TrainingSet:
    """Stack the eligible customers of every as-of date; the holdout's customers are the
    ``validation`` rows, the others ``train``. Features are the snapshot of T only."""
    frames = frames or SnapshotFrames(source, design.feature_cutoff, design.timezone)
    if frames.load_cutoff != design.feature_cutoff:
        raise TrainingSetError("frames use a different load cut-off than the design")
    unknown = [f for f in features if f not in MODEL_FEATURES]
    if unknown:
        raise TrainingSetError(f"not snapshot features: {', '.join(unknown)}")
    parts = []
    for as_of in sorted(design.as_of):
        part = labelled_point(frames.at(as_of), target, frames, as_of,
                              design.horizon_end(as_of), features)  # fmt: skip
        held_out = design.holdout.contains(part["customer_key"])
        part.insert(2, "role", np.where(held_out, "validation", "train"))
        parts.append(part)
        if on_point is not None:
            on_point(as_of)
    frame = pd.concat(parts, ignore_index=True)
    return TrainingSet(frame=frame, features=tuple(features), target=target.name, spec=design)
