"""Customer lifetime value: transaction CLV from BG/NBD × Gamma-Gamma, bank margin CLV, tiers.

Formulas (see ``docs/clv.md``), with ``δ = (1 + D)^(1/12) − 1`` the monthly rate equivalent to
an annual discount rate ``D``:

* transaction CLV over ``H`` months:
  ``margin · E[spend] · Σ_{m=1..H} (E[Y(m)] − E[Y(m−1)]) / (1 + δ)^m`` where ``E[Y(m)]`` is
  the BG/NBD expected number of purchases in the first ``m`` months after the calibration end;
* bank margin CLV: ``Σ_{m=1..H} (B (1+g)^m · margin_rate / 12 + fee) · s^m / (1 + δ)^m − AC``
  with balance ``B``, monthly balance growth ``g``, annual margin rate on the balance, monthly
  fee income, monthly survival probability ``s`` and acquisition cost ``AC``;
* value tiers: customers ranked by value (ties by key) and cut at cumulative shares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nextbest.value.bgnbd import BetaGeoModel, check_rfm_summary
from nextbest.value.errors import ValueInputError
from nextbest.value.gamma_gamma import GammaGammaModel
from nextbest.value.summary import TIME_UNIT_DAYS, TimeUnit
from nextbest.value.validation import as_float_array, require_columns

__all__ = [
    "DEFAULT_VALUE_TIERS",
    "MONTH_DAYS",
    "TierSummary",
    "ValueTier",
    "assign_value_tiers",
    "bank_margin_clv",
    "credit_margin_rate",
    "discounted_expected_purchases",
    "monthly_discount_rate",
    "predict_customer_value",
    "summarize_tiers",
    "transaction_clv",
]

#: Days per month used to turn months into the model's time unit (a twelfth of a year).
MONTH_DAYS = 365.25 / 12.0


@dataclass(frozen=True)
class ValueTier:
    """One value tier: its code, its share of customers (``None``: all the rest), labels."""

    code: str
    share: float | None
    zh: str
    en: str


#: Top 5 % / next 15 % / next 30 % / the rest.
DEFAULT_VALUE_TIERS: tuple[ValueTier, ...] = (
    ValueTier("top", 0.05, "顶级价值客户", "Top value"),
    ValueTier("high", 0.15, "高价值客户", "High value"),
    ValueTier("medium", 0.30, "中等价值客户", "Medium value"),
    ValueTier("mass", None, "大众客户", "Mass"),
)


@dataclass(frozen=True)
class TierSummary:
    """Totals of one value tier."""

    code: str
    zh: str
    en: str
    customers: int
    total_value: float
    mean_value: float
    min_value: float
    share_of_value: float


def monthly_discount_rate(annual_discount_rate: float) -> float:
    """The monthly rate ``(1 + D)^(1/12) − 1`` that compounds to the annual rate ``D``."""
    if not np.isfinite(annual_discount_rate) or annual_discount_rate <= -1:
        raise ValueInputError(
            f"annual discount rate must be finite and > -1, got {annual_discount_rate}"
        )
    return float((1.0 + annual_discount_rate) ** (1.0 / 12.0) - 1.0)


def discounted_expected_purchases(
    model: BetaGeoModel,
    frequency: object,
    recency: object,
    T: object,
    *,
    horizon_months: int,
    annual_discount_rate: float,
    unit_days: float = 7.0,
) -> np.ndarray:
    """``Σ_{m=1..H} (E[Y(m)] − E[Y(m−1)]) / (1+δ)^m``: purchases per month, discounted.

    Parameters
    ----------
    model:
        A fitted BG/NBD model whose time unit is ``unit_days`` days.
    frequency, recency, T:
        The customers' calibration summary in that unit.
    horizon_months:
        Number of months ahead (≥ 1).
    annual_discount_rate:
        Annual rate, applied monthly at the end of each month.
    unit_days:
        Days per model time unit (7 for a model fitted in weeks).
    """
    if horizon_months < 1:
        raise ValueInputError(f"horizon_months must be >= 1, got {horizon_months}")
    if unit_days <= 0:
        raise ValueInputError(f"unit_days must be > 0, got {unit_days}")
    x, t_x, age = check_rfm_summary(frequency, recency, T, "discounted_expected_purchases")
    delta = monthly_discount_rate(annual_discount_rate)
    month = MONTH_DAYS / unit_days
    # Customers with the same summary get the same value: evaluate each distinct row once
    # (hyp2f1 dominates the cost; real customer bases have many repeated rows).
    rows, inverse = np.unique(np.column_stack([x, t_x, age]), axis=0, return_inverse=True)
    ux, ut, uT = rows[:, 0], rows[:, 1], rows[:, 2]
    total = np.zeros(len(ux))
    previous = np.zeros(len(ux))
    for m in range(1, horizon_months + 1):
        cumulative = model.expected_purchases(m * month, ux, ut, uT)
        total += (cumulative - previous) / (1.0 + delta) ** m
        previous = cumulative
    return total[inverse.reshape(-1)]


def transaction_clv(
    model: BetaGeoModel,
    frequency: object,
    recency: object,
    T: object,
    expected_spend: object,
    *,
    horizon_months: int = 12,
    annual_discount_rate: float = 0.10,
    margin: float = 1.0,
    unit_days: float = 7.0,
) -> np.ndarray:
    """Transaction CLV: discounted expected purchases × expected spend × margin.

    ``expected_spend`` is the Gamma-Gamma conditional expected spend per purchase (or any
    per-customer estimate); ``margin`` the profit share of spend (1.0 gives revenue).
    """
    spend = as_float_array(expected_spend, "transaction_clv", "expected_spend")
    if not 0 <= margin <= 1 or not np.isfinite(margin):
        raise ValueInputError(f"transaction_clv: margin must be in [0, 1], got {margin}")
    purchases = discounted_expected_purchases(
        model,
        frequency,
        recency,
        T,
        horizon_months=horizon_months,
        annual_discount_rate=annual_discount_rate,
        unit_days=unit_days,
    )
    if len(spend) != len(purchases):
        raise ValueInputError("transaction_clv: expected_spend differs in length from frequency")
    return margin * spend * purchases


def credit_margin_rate(
    net_interest_margin: object, probability_of_default: object, loss_given_default: object
) -> np.ndarray:
    """Annual margin rate of a credit balance net of expected loss: ``NIM − PD · LGD``."""
    nim = as_float_array(
        net_interest_margin, "credit_margin_rate", "net_interest_margin", minimum=None
    )
    pd_ = as_float_array(
        probability_of_default, "credit_margin_rate", "probability_of_default", maximum=1.0
    )
    lgd = as_float_array(
        loss_given_default, "credit_margin_rate", "loss_given_default", maximum=1.0
    )
    return nim - pd_ * lgd


def bank_margin_clv(
    balance: object,
    margin_rate: object,
    monthly_survival: object,
    *,
    horizon_months: int,
    annual_discount_rate: float,
    monthly_balance_growth: object = 0.0,
    monthly_fee_income: object = 0.0,
    acquisition_cost: object = 0.0,
) -> np.ndarray:
    """Discounted expected margin of a balance-bearing relationship over ``H`` months.

    ``CLV = Σ_{m=1..H} (B (1+g)^m · margin_rate / 12 + fee) · s^m / (1+δ)^m − AC``, summed
    in closed form: with ``q = s (1+g) / (1+δ)`` and ``u = s / (1+δ)``,
    ``Σ q^m = q (1 − q^H) / (1 − q)`` (``= H`` when ``q = 1``).

    Parameters
    ----------
    balance:
        Average daily balance per customer (deposit or credit), in currency.
    margin_rate:
        Annual margin on the balance: the deposit spread (funds-transfer rate − customer
        rate) or, for credit, :func:`credit_margin_rate`. May be negative.
    monthly_survival:
        Probability that the relationship survives each month, in [0, 1].
    horizon_months:
        Number of months (≥ 1).
    annual_discount_rate:
        Annual discount rate, applied monthly.
    monthly_balance_growth, monthly_fee_income, acquisition_cost:
        Optional, per customer or scalar: balance growth per month (> −1), fee income per
        month while the relationship survives, and a one-off cost at month 0.

    Returns
    -------
    numpy.ndarray
        CLV per customer in the currency of ``balance``.
    """
    what = "bank_margin_clv"
    if horizon_months < 1:
        raise ValueInputError(f"{what}: horizon_months must be >= 1, got {horizon_months}")
    arrays = {
        "balance": as_float_array(balance, what, "balance", minimum=None),
        "margin_rate": as_float_array(margin_rate, what, "margin_rate", minimum=None),
        "survival": as_float_array(monthly_survival, what, "monthly_survival", maximum=1.0),
        "growth": as_float_array(
            monthly_balance_growth, what, "monthly_balance_growth", minimum=-0.999999
        ),
        "fee": as_float_array(monthly_fee_income, what, "monthly_fee_income", minimum=None),
        "cost": as_float_array(acquisition_cost, what, "acquisition_cost", minimum=None),
    }
    try:
        b, rate, s, g, fee, cost = np.broadcast_arrays(*arrays.values())
    except ValueError as exc:
        shapes = {k: v.shape for k, v in arrays.items()}
        raise ValueInputError(f"{what}: inputs do not broadcast together {shapes}") from exc
    discount = 1.0 + monthly_discount_rate(annual_discount_rate)
    balance_factor = _geometric_sum(s * (1.0 + g) / discount, horizon_months)
    fee_factor = _geometric_sum(s / discount, horizon_months)
    return b * rate / 12.0 * balance_factor + fee * fee_factor - cost


def _geometric_sum(q: np.ndarray, horizon: int) -> np.ndarray:
    """``Σ_{m=1..H} q^m``, exact also at and near ``q = 1``."""
    near_one = np.abs(1.0 - q) < 1e-9
    safe = np.where(near_one, 0.5, q)
    closed = safe * (1.0 - safe**horizon) / (1.0 - safe)
    return np.where(near_one, horizon * q ** ((horizon + 1) / 2.0), closed)


def _check_tiers(tiers: Sequence[ValueTier]) -> np.ndarray:
    if not tiers:
        raise ValueInputError("value tiers: at least one tier is needed")
    codes = [t.code for t in tiers]
    if len(set(codes)) != len(codes):
        raise ValueInputError(f"value tiers: codes must be unique, got {codes}")
    shares = []
    for i, tier in enumerate(tiers):
        if tier.share is None:
            if i != len(tiers) - 1:
                raise ValueInputError(
                    f"value tiers: only the last tier may take the rest (share None), "
                    f"not {tier.code!r}"
                )
            shares.append(np.inf)
        elif not 0 < tier.share <= 1:
            raise ValueInputError(f"value tiers: share of {tier.code!r} must be in (0, 1]")
        else:
            shares.append(tier.share)
    bounds = np.cumsum(shares)
    finite = bounds[np.isfinite(bounds)]
    if finite.size and finite[-1] > 1 + 1e-9:
        raise ValueInputError(f"value tiers: shares add up to {finite[-1]:.4f} > 1")
    if np.isfinite(bounds[-1]) and bounds[-1] < 1 - 1e-9:
        raise ValueInputError(
            "value tiers: shares add up to less than 1; give the last tier share None"
        )
    bounds[-1] = np.inf  # the last tier takes whatever rounding leaves
    return bounds


def assign_value_tiers(
    values: object, keys: object, tiers: Sequence[ValueTier] = DEFAULT_VALUE_TIERS
) -> np.ndarray:
    """Tier code per customer: rank by value (highest first, ties by ascending key), cut.

    Customer at 0-based rank ``k`` of ``n`` falls in the first tier whose cumulative share
    exceeds ``(k + ½) / n``, so each tier gets its share of customers rounded to the nearest
    whole customer.
    """
    value = as_float_array(values, "assign_value_tiers", "values", minimum=None)
    key = np.asarray(keys)
    if len(key) != len(value):
        raise ValueInputError("assign_value_tiers: values and keys differ in length")
    bounds = _check_tiers(tiers)
    n = len(value)
    if n == 0:
        return np.zeros(0, dtype=str)
    try:
        key_rank = np.empty(n, dtype=np.int64)
        key_rank[np.argsort(key, kind="stable")] = np.arange(n)
    except TypeError as exc:
        raise ValueInputError(f"assign_value_tiers: keys are not comparable ({exc})") from exc
    order = np.lexsort((key_rank, -value))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    position = (rank + 0.5) / n
    index = np.searchsorted(bounds, position, side="right")
    return np.array([t.code for t in tiers], dtype=object)[index].astype(str)


def summarize_tiers(
    values: object, tier_codes: object, tiers: Sequence[ValueTier] = DEFAULT_VALUE_TIERS
) -> list[TierSummary]:
    """Count, total, mean and minimum value and share of total value per tier, in tier order."""
    value = as_float_array(values, "summarize_tiers", "values", minimum=None)
    codes = np.asarray(tier_codes).astype(str)
    grand_total = float(value.sum())
    out = []
    for tier in tiers:
        chosen = value[codes == tier.code]
        total = float(chosen.sum())
        out.append(
            TierSummary(
                code=tier.code,
                zh=tier.zh,
                en=tier.en,
                customers=len(chosen),
                total_value=total,
                mean_value=float(chosen.mean()) if len(chosen) else 0.0,
                min_value=float(chosen.min()) if len(chosen) else 0.0,
                share_of_value=total / grand_total if grand_total else 0.0,
            )
        )
    return out


def predict_customer_value(
    summary: pd.DataFrame,
    bgnbd: BetaGeoModel,
    gamma_gamma: GammaGammaModel,
    *,
    horizon_months: int = 12,
    annual_discount_rate: float = 0.10,
    margin: float = 1.0,
    time_unit: TimeUnit = "weeks",
    tiers: Sequence[ValueTier] = DEFAULT_VALUE_TIERS,
) -> pd.DataFrame:
    """Per-customer predictions from a calibration summary and two fitted models.

    Parameters
    ----------
    summary:
        Output of :func:`nextbest.value.summary.calibration_summary` (indexed by customer,
        columns ``frequency``, ``recency``, ``T``, ``monetary_value``).
    bgnbd, gamma_gamma:
        Fitted models; ``bgnbd`` in ``time_unit``.
    horizon_months, annual_discount_rate, margin, time_unit, tiers:
        As for :func:`transaction_clv` and :func:`assign_value_tiers`.

    Returns
    -------
    pandas.DataFrame
        Same index, columns ``probability_alive``, ``expected_purchases`` (undiscounted, over
        the horizon), ``expected_spend``, ``clv``, ``value_tier``, ``value_tier_zh``,
        ``value_tier_en``.
    """
    require_columns(
        summary, ["frequency", "recency", "T", "monetary_value"], "predict_customer_value"
    )
    for name, model in (("BG/NBD", bgnbd), ("Gamma-Gamma", gamma_gamma)):
        # Hand-set parameters have no convergence record and are taken as given.
        if not getattr(model, "converged_", True):
            raise ValueInputError(
                f"predict_customer_value: the {name} fit is not usable "
                f"({getattr(model, 'convergence_message_', 'did not converge')})"
            )
    x, t_x, age = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    unit_days = TIME_UNIT_DAYS[time_unit]
    spend = gamma_gamma.expected_average_spend(x, summary["monetary_value"].to_numpy(float))
    clv = transaction_clv(
        bgnbd,
        x,
        t_x,
        age,
        spend,
        horizon_months=horizon_months,
        annual_discount_rate=annual_discount_rate,
        margin=margin,
        unit_days=unit_days,
    )
    if not np.all(np.isfinite(clv)):
        row = int(np.flatnonzero(~np.isfinite(clv))[0])
        raise ValueInputError(
            f"predict_customer_value: CLV of customer {summary.index[row]!r} is not finite"
        )
    horizon = horizon_months * MONTH_DAYS / unit_days
    tier = assign_value_tiers(clv, summary.index.to_numpy(), tiers)
    labels = {t.code: t for t in tiers}
    out = pd.DataFrame(
        {
            "probability_alive": bgnbd.probability_alive(x, t_x, age),
            "expected_purchases": bgnbd.expected_purchases(horizon, x, t_x, age),
            "expected_spend": spend,
            "clv": clv,
            "value_tier": tier,
        },
        index=summary.index,
    )
    out["value_tier_zh"] = out["value_tier"].map({c: t.zh for c, t in labels.items()})
    out["value_tier_en"] = out["value_tier"].map({c: t.en for c, t in labels.items()})
    return out
