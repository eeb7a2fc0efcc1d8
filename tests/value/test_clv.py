from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nextbest.value.bgnbd import BetaGeoModel
from nextbest.value.clv import (
    DEFAULT_VALUE_TIERS,
    MONTH_DAYS,
    ValueTier,
    assign_value_tiers,
    bank_margin_clv,
    credit_margin_rate,
    discounted_expected_purchases,
    monthly_discount_rate,
    predict_customer_value,
    summarize_tiers,
    transaction_clv,
)
from nextbest.value.errors import ValueInputError
from nextbest.value.gamma_gamma import GammaGammaModel
from tests.value.cdnow import published_summary_with_spend


def _bgnbd() -> BetaGeoModel:
    model = BetaGeoModel()
    model.r_, model.alpha_, model.a_, model.b_ = 0.243, 4.414, 0.793, 2.426
    return model


X = np.array([0.0, 2.0, 7.0])
TX = np.array([0.0, 30.43, 35.0])
T = np.full(3, 38.86)


def test_monthly_rate_compounds_to_the_annual_rate() -> None:
    assert (1 + monthly_discount_rate(0.1268)) ** 12 == pytest.approx(1.1268)
    assert monthly_discount_rate(0.0) == 0.0
    with pytest.raises(ValueInputError, match="discount rate"):
        monthly_discount_rate(-1.0)


def test_undiscounted_monthly_sum_telescopes_to_the_horizon_expectation() -> None:
    model = _bgnbd()
    total = discounted_expected_purchases(
        model, X, TX, T, horizon_months=12, annual_discount_rate=0.0
    )
    year = model.expected_purchases(12 * MONTH_DAYS / 7, X, TX, T)
    np.testing.assert_allclose(total, year, rtol=1e-12)


def test_discounting_by_hand_for_two_months() -> None:
    model = _bgnbd()
    month = MONTH_DAYS / 7
    first = model.expected_purchases(month, X, TX, T)
    second = model.expected_purchases(2 * month, X, TX, T) - first
    delta = monthly_discount_rate(0.2)
    expected = first / (1 + delta) + second / (1 + delta) ** 2
    got = discounted_expected_purchases(model, X, TX, T, horizon_months=2, annual_discount_rate=0.2)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_days_and_weeks_models_agree() -> None:
    weekly = _bgnbd()
    daily = _bgnbd()
    daily.alpha_ = weekly.alpha_ * 7  # α carries the time unit
    args = {"horizon_months": 6, "annual_discount_rate": 0.1}
    in_weeks = discounted_expected_purchases(weekly, X, TX, T, **args, unit_days=7.0)
    in_days = discounted_expected_purchases(daily, X, TX * 7, T * 7, **args, unit_days=1.0)
    np.testing.assert_allclose(in_days, in_weeks, rtol=1e-9)


def test_transaction_clv_is_purchases_times_spend_times_margin() -> None:
    model = _bgnbd()
    spend = np.array([30.0, 20.0, 50.0])
    purchases = discounted_expected_purchases(
        model, X, TX, T, horizon_months=12, annual_discount_rate=0.1
    )
    clv = transaction_clv(model, X, TX, T, spend, margin=0.3)
    np.testing.assert_allclose(clv, 0.3 * spend * purchases)
    assert clv[2] > clv[1]
    with pytest.raises(ValueInputError, match="margin"):
        transaction_clv(model, X, TX, T, spend, margin=1.5)
    with pytest.raises(ValueInputError, match="differs in length"):
        transaction_clv(model, X, TX, T, spend[:2])
    with pytest.raises(ValueInputError, match="horizon_months"):
        transaction_clv(model, X, TX, T, spend, horizon_months=0)


def _bank_clv_by_loop(b, rate, s, g, fee, cost, horizon, annual) -> float:
    delta = (1 + annual) ** (1 / 12) - 1
    total = -cost
    for m in range(1, horizon + 1):
        total += (b * (1 + g) ** m * rate / 12 + fee) * s**m / (1 + delta) ** m
    return total


@pytest.mark.parametrize(
    ("b", "rate", "s", "g", "fee", "cost"),
    [
        (10_000.0, 0.02, 0.99, 0.0, 0.0, 0.0),
        (250_000.0, 0.015, 0.97, 0.005, 12.0, 300.0),
        (80_000.0, -0.004, 1.0, 0.0, 5.0, 0.0),  # negative margin: a loss-making balance
        (1_000.0, 0.03, 0.0, 0.0, 0.0, 50.0),  # leaves at once: only the cost remains
    ],
)
def test_bank_clv_closed_form_equals_the_monthly_sum(b, rate, s, g, fee, cost) -> None:
    got = bank_margin_clv(
        b, rate, s, horizon_months=36, annual_discount_rate=0.08,
        monthly_balance_growth=g, monthly_fee_income=fee, acquisition_cost=cost,
    )  # fmt: skip
    expected = _bank_clv_by_loop(b, rate, s, g, fee, cost, 36, 0.08)
    assert got[0] == pytest.approx(expected, rel=1e-10, abs=1e-9)


def test_bank_clv_at_ratio_one_and_broadcasting() -> None:
    # No discount, full survival, no growth: exactly H months of margin.
    got = bank_margin_clv(
        np.array([12_000.0, 24_000.0]), 0.01, 1.0, horizon_months=24, annual_discount_rate=0.0
    )
    np.testing.assert_allclose(got, [240.0, 480.0])
    per_customer = bank_margin_clv(
        [1e4, 1e4, 1e4], [0.02, 0.02, 0.02], [0.9, 0.95, 0.99],
        horizon_months=12, annual_discount_rate=0.05,
    )  # fmt: skip
    assert per_customer[0] < per_customer[1] < per_customer[2]


def test_bank_clv_validation() -> None:
    with pytest.raises(ValueInputError, match="'monthly_survival' in row 1"):
        bank_margin_clv([1.0, 1.0], 0.01, [0.5, 1.2], horizon_months=12, annual_discount_rate=0.1)
    with pytest.raises(ValueInputError, match="do not broadcast"):
        bank_margin_clv([1.0, 1.0], [0.01] * 3, 0.9, horizon_months=12, annual_discount_rate=0.1)
    with pytest.raises(ValueInputError, match="horizon_months"):
        bank_margin_clv(1.0, 0.01, 0.9, horizon_months=0, annual_discount_rate=0.1)


def test_credit_margin_rate_subtracts_expected_loss() -> None:
    np.testing.assert_allclose(credit_margin_rate([0.03, 0.05], [0.02, 0.1], 0.45), [0.021, 0.005])
    with pytest.raises(ValueInputError, match="probability_of_default"):
        credit_margin_rate(0.03, 1.5, 0.45)


def test_default_tiers_cut_5_15_30_50() -> None:
    rng = np.random.default_rng(1)
    values = rng.gamma(0.5, 100.0, 1000)
    tiers = assign_value_tiers(values, np.arange(1000))
    counts = pd.Series(tiers).value_counts()
    assert counts.to_dict() == {"mass": 500, "medium": 300, "high": 150, "top": 50}
    assert values[tiers == "top"].min() >= values[tiers == "high"].max()
    assert values[tiers == "medium"].min() >= values[tiers == "mass"].max()


def test_tier_ties_are_broken_by_key() -> None:
    tiers = (ValueTier("a", 0.5, "甲", "A"), ValueTier("b", None, "乙", "B"))
    got = assign_value_tiers([1.0, 1.0, 1.0, 1.0], ["d", "b", "a", "c"], tiers)
    assert got.tolist() == ["b", "a", "a", "b"]


def test_tier_configuration_is_checked() -> None:
    with pytest.raises(ValueInputError, match="only the last tier"):
        assign_value_tiers([1.0], [1], (ValueTier("a", None, "", ""), ValueTier("b", 0.5, "", "")))
    with pytest.raises(ValueInputError, match=r"add up to 1\.2000"):
        assign_value_tiers([1.0], [1], (ValueTier("a", 0.6, "", ""), ValueTier("b", 0.6, "", "")))
    with pytest.raises(ValueInputError, match="less than 1"):
        assign_value_tiers([1.0], [1], (ValueTier("a", 0.6, "", ""),))
    with pytest.raises(ValueInputError, match="unique"):
        assign_value_tiers([1.0], [1], (ValueTier("a", 0.6, "", ""), ValueTier("a", None, "", "")))


def test_tier_summary_adds_up() -> None:
    values = np.arange(1.0, 101.0)
    codes = assign_value_tiers(values, np.arange(100))
    summary = summarize_tiers(values, codes)
    assert [s.code for s in summary] == [t.code for t in DEFAULT_VALUE_TIERS]
    assert sum(s.customers for s in summary) == 100
    assert sum(s.share_of_value for s in summary) == pytest.approx(1.0)
    top = summary[0]
    assert (top.customers, top.min_value, top.total_value) == (5, 96.0, 490.0)
    assert top.zh == "顶级价值客户"


def test_predict_customer_value_on_cdnow(shared_dir: Path) -> None:
    data = published_summary_with_spend(shared_dir)
    summary = pd.DataFrame(
        {
            "frequency": data["x"],
            "recency": data["t_x"],
            "T": data["T"],
            "monetary_value": data["zbar"],
        }
    )
    bgnbd = BetaGeoModel().fit(summary["frequency"], summary["recency"], summary["T"])
    gamma_gamma = GammaGammaModel().fit(summary["frequency"], summary["monetary_value"])
    out = predict_customer_value(summary, bgnbd, gamma_gamma, margin=0.2)
    assert out.index.equals(summary.index)
    assert list(out.columns) == [
        "probability_alive", "expected_purchases", "expected_spend", "clv",
        "value_tier", "value_tier_zh", "value_tier_en",
    ]  # fmt: skip
    assert out["value_tier"].value_counts().to_dict() == {
        "mass": 1179, "medium": 707, "high": 353, "top": 118
    }  # fmt: skip
    assert (out["clv"] > 0).all()
    # Customer 1 (x = 2, t_x = 30.43): a year's purchases, alive probability as FHL.
    assert out.loc[1, "probability_alive"] == pytest.approx(0.7266, abs=2e-3)
    assert out.loc[1, "expected_purchases"] > bgnbd.expected_purchases(39, [2], [30.43], [38.86])[0]


def test_degenerate_fits_give_a_clear_error_instead_of_nan_values() -> None:
    summary = pd.DataFrame(
        {
            "frequency": [2.0, 1, 0, 1, 3],
            "recency": [59.0, 75, 0, 7, 85],
            "T": [89.0, 86, 49, 71, 88],
            "monetary_value": [10.5, 45, 0, 25, 9],
        }
    )
    bgnbd = BetaGeoModel().fit(summary["frequency"], summary["recency"], summary["T"])
    gamma_gamma = GammaGammaModel().fit(summary["frequency"], summary["monetary_value"])
    with pytest.raises(ValueInputError, match="the BG/NBD fit is not usable"):
        predict_customer_value(summary, bgnbd, gamma_gamma, time_unit="days")
