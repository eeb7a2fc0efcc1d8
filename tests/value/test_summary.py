from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nextbest.value.errors import ValueInputError
from nextbest.value.summary import calibration_summary, summarize_purchase_days
from tests.value.cdnow import (
    CALIBRATION_END,
    published_summary,
    published_summary_with_spend,
    sample_transactions,
)

# The shipped files round to two decimals; allow exactly that (plus float noise).
ROUNDING = 0.005 + 1e-9


@pytest.fixture(scope="module")
def cdnow_summary(shared_dir: Path) -> pd.DataFrame:
    return calibration_summary(
        sample_transactions(shared_dir),
        customer_col="customer",
        date_col="date",
        value_col="dollars",
        calibration_end=CALIBRATION_END,
        date_format="%Y%m%d",
    )


def test_cdnow_summary_equals_the_shipped_summary(
    cdnow_summary: pd.DataFrame, shared_dir: Path
) -> None:
    expected = published_summary(shared_dir)
    assert len(cdnow_summary) == len(expected) == 2357
    assert cdnow_summary.index.equals(expected.index)
    np.testing.assert_array_equal(cdnow_summary["frequency"], expected["frequency"])
    np.testing.assert_allclose(cdnow_summary["recency"], expected["recency"], rtol=0, atol=ROUNDING)
    np.testing.assert_allclose(cdnow_summary["T"], expected["T"], rtol=0, atol=ROUNDING)


def test_cdnow_mean_repeat_spend_equals_the_shipped_zbar(
    cdnow_summary: pd.DataFrame, shared_dir: Path
) -> None:
    expected = published_summary_with_spend(shared_dir)
    assert cdnow_summary.index.equals(expected.index)
    np.testing.assert_array_equal(cdnow_summary["frequency"], expected["x"])
    np.testing.assert_allclose(cdnow_summary["recency"], expected["t_x"], rtol=0, atol=ROUNDING)
    np.testing.assert_allclose(
        cdnow_summary["monetary_value"], expected["zbar"], rtol=0, atol=ROUNDING
    )
    assert int((cdnow_summary["frequency"] > 0).sum()) == 946


def _toy() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cust": ["b", "a", "a", "a", "a", "b", "c", "a"],
            "when": pd.to_datetime(
                [
                    "2024-01-08 09:00",
                    "2024-01-01 10:00",
                    "2024-01-01 18:30",  # same day as the first purchase: merged
                    "2024-01-15",
                    "2024-01-29",
                    "2024-02-20",  # after the calibration end: hold-out
                    "2024-02-10",  # c's first purchase is after the end: not a customer yet
                    "2024-01-29 20:00",  # same day again
                ],
                format="ISO8601",
            ),
            "amount": [5.0, 10.0, 2.0, 4.0, 6.0, 7.0, 1.0, 1.0],
        }
    )


def test_toy_summary_merges_days_and_excludes_first_purchase_from_spend() -> None:
    out = calibration_summary(
        _toy(),
        customer_col="cust",
        date_col="when",
        value_col="amount",
        calibration_end="2024-01-31",
        time_unit="days",
        observation_end="2024-02-29",
    )
    assert out.index.tolist() == ["a", "b"]
    assert out.index.name == "cust"
    a, b = out.loc["a"], out.loc["b"]
    assert (a.frequency, a.recency, a["T"]) == (2.0, 28.0, 30.0)
    assert a.monetary_value == pytest.approx((4.0 + 7.0) / 2)
    assert (b.frequency, b.recency, b["T"], b.monetary_value) == (0.0, 0.0, 23.0, 0.0)
    assert out["frequency_holdout"].tolist() == [0.0, 1.0]
    assert out["duration_holdout"].tolist() == [29.0, 29.0]


def test_weeks_are_days_over_seven() -> None:
    days = calibration_summary(
        _toy(), customer_col="cust", date_col="when", value_col="amount",
        calibration_end="2024-01-31", time_unit="days",
    )  # fmt: skip
    weeks = calibration_summary(
        _toy(), customer_col="cust", date_col="when", value_col="amount",
        calibration_end="2024-01-31",
    )  # fmt: skip
    np.testing.assert_allclose(weeks[["recency", "T"]], days[["recency", "T"]] / 7)


def test_array_core_on_empty_input() -> None:
    empty = np.zeros(0)
    summary = summarize_purchase_days(empty, empty, empty, calibration_end_day=10)
    assert summary.customer.size == summary.frequency.size == 0


def test_missing_column_and_bad_dates_are_named() -> None:
    with pytest.raises(ValueInputError, match=r"missing required column\(s\) \['amount'\]"):
        calibration_summary(
            _toy().drop(columns="amount"), customer_col="cust", date_col="when",
            value_col="amount", calibration_end="2024-01-31",
        )  # fmt: skip
    bad = _toy().astype({"when": str})
    bad.loc[3, "when"] = "not a date"
    with pytest.raises(ValueInputError, match=r"'when' row 3 value 'not a date'"):
        calibration_summary(
            bad, customer_col="cust", date_col="when", value_col="amount",
            calibration_end="2024-01-31",
        )  # fmt: skip


def test_empty_key_and_non_numeric_value_are_rejected() -> None:
    frame = _toy()
    frame.loc[2, "cust"] = None
    with pytest.raises(ValueInputError, match="'cust' is empty in row 2"):
        calibration_summary(
            frame, customer_col="cust", date_col="when", value_col="amount",
            calibration_end="2024-01-31",
        )  # fmt: skip
    frame = _toy()
    frame["amount"] = frame["amount"].astype(str)
    frame.loc[1, "amount"] = "ten"
    with pytest.raises(ValueInputError, match="'amount' must be numeric"):
        calibration_summary(
            frame, customer_col="cust", date_col="when", value_col="amount",
            calibration_end="2024-01-31",
        )  # fmt: skip


def test_observation_end_before_calibration_end_is_rejected() -> None:
    with pytest.raises(ValueInputError, match="observation end"):
        calibration_summary(
            _toy(), customer_col="cust", date_col="when", value_col="amount",
            calibration_end="2024-01-31", observation_end="2024-01-01",
        )  # fmt: skip
