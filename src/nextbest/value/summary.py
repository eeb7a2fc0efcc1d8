"""From a transaction log to the per-customer summary the BG/NBD and Gamma-Gamma models use.

For each customer whose first purchase falls on or before the calibration end:

* purchases on the same calendar day are merged into one purchase (their values summed);
* ``frequency`` ``x`` = number of *repeat* purchase days (purchase days − 1);
* ``recency`` ``t_x`` = time from the first to the last purchase day;
* ``T`` = time from the first purchase day to the calibration end;
* ``monetary_value`` = mean value of the repeat purchase days, the first day excluded
  (0 when ``x = 0``), which is the Gamma-Gamma model's ``z̄``.

Times are in a chosen unit (weeks = days / 7 for CDNOW). Optionally a hold-out period up
to an observation end gives ``frequency_holdout`` (purchase days after the calibration end).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, TypeAlias

import numpy as np
import pandas as pd

from nextbest.value.errors import ValueInputError
from nextbest.value.validation import as_float_array, require_columns, require_same_length

__all__ = [
    "TIME_UNIT_DAYS",
    "PurchaseSummary",
    "TimeUnit",
    "calibration_summary",
    "summarize_purchase_days",
]

TimeUnit = Literal["days", "weeks", "months"]
#: Days per time unit; a month is a twelfth of a Julian year.
TIME_UNIT_DAYS: dict[str, float] = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12.0}

DateLike: TypeAlias = str | date | datetime | pd.Timestamp


@dataclass(frozen=True)
class PurchaseSummary:
    """Per-customer summary arrays, customers in ascending order of their code.

    ``customer`` holds the integer codes given to :func:`summarize_purchase_days`; the
    hold-out arrays are empty when no observation end was given.
    """

    customer: np.ndarray
    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    monetary_value: np.ndarray
    frequency_holdout: np.ndarray
    duration_holdout: float


def summarize_purchase_days(
    customer: np.ndarray,
    day: np.ndarray,
    value: np.ndarray,
    *,
    calibration_end_day: int,
    unit_days: float = 7.0,
    observation_end_day: int | None = None,
) -> PurchaseSummary:
    """Summarise transactions given as integer customer codes and integer day numbers.

    Parameters
    ----------
    customer:
        Non-negative integer customer code per transaction.
    day:
        Integer day number per transaction (e.g. days since 1970-01-01).
    value:
        Monetary value per transaction.
    calibration_end_day:
        Last day (inclusive) of the calibration period; ``T`` is measured to it.
    unit_days:
        Days per time unit of ``recency`` and ``T`` (7 for weeks).
    observation_end_day:
        Last day (inclusive) of the hold-out period, or ``None`` for no hold-out.

    Returns
    -------
    PurchaseSummary
        One entry per customer with a purchase on or before ``calibration_end_day``.
    """
    customer = np.asarray(customer, dtype=np.int64)
    day = np.asarray(day, dtype=np.int64)
    value = np.asarray(value, dtype=float)
    require_same_length("summarize_purchase_days", customer=customer, day=day, value=value)
    if unit_days <= 0:
        raise ValueInputError(f"summarize_purchase_days: unit_days must be > 0, got {unit_days}")

    # Merge purchases of one customer on one day: sort by (customer, day), sum runs.
    order = np.lexsort((day, customer))
    customer, day, value = customer[order], day[order], value[order]
    starts = np.flatnonzero(
        np.r_[True, (np.diff(customer) != 0) | (np.diff(day) != 0)] if len(day) else []
    )
    pair_customer = customer[starts]
    pair_day = day[starts]
    pair_value = np.add.reduceat(value, starts) if len(starts) else np.zeros(0)

    in_calibration = pair_day <= calibration_end_day
    cal_customer = pair_customer[in_calibration]
    cal_day = pair_day[in_calibration]
    cal_value = pair_value[in_calibration]
    # Pairs are sorted by customer then day, so each customer's first row is its first day.
    first_rows = np.flatnonzero(np.r_[True, np.diff(cal_customer) != 0] if len(cal_day) else [])
    last_rows = np.r_[first_rows[1:] - 1, len(cal_day) - 1] if len(first_rows) else first_rows
    customers = cal_customer[first_rows]
    n_days = np.diff(np.r_[first_rows, len(cal_day)])
    first_day = cal_day[first_rows]
    last_day = cal_day[last_rows]
    total = np.add.reduceat(cal_value, first_rows) if len(first_rows) else np.zeros(0)
    frequency = (n_days - 1).astype(float)
    repeat_total = total - cal_value[first_rows]
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(frequency > 0, repeat_total / np.maximum(frequency, 1.0), 0.0)

    holdout = np.zeros(0)
    duration = 0.0
    if observation_end_day is not None:
        if observation_end_day < calibration_end_day:
            raise ValueInputError(
                "summarize_purchase_days: the observation end must not precede the calibration end"
            )
        in_holdout = (pair_day > calibration_end_day) & (pair_day <= observation_end_day)
        counts = np.bincount(
            pair_customer[in_holdout], minlength=int(customers.max(initial=-1)) + 1
        )
        holdout = counts[customers].astype(float)
        duration = (observation_end_day - calibration_end_day) / unit_days

    return PurchaseSummary(
        customer=customers,
        frequency=frequency,
        recency=(last_day - first_day) / unit_days,
        T=(calibration_end_day - first_day) / unit_days,
        monetary_value=monetary,
        frequency_holdout=holdout,
        duration_holdout=duration,
    )


def _to_day_numbers(dates: pd.Series, date_format: str | None, column: str) -> np.ndarray:
    if not pd.api.types.is_datetime64_any_dtype(dates):
        text = dates.astype(str) if pd.api.types.is_integer_dtype(dates) else dates
        # ISO 8601 unless told otherwise: inferring a format from the first row misreads
        # logs whose rows differ in precision ("2024-01-01" next to "2024-01-01 10:00").
        parsed = pd.to_datetime(text, format=date_format or "ISO8601", errors="coerce")
        bad = parsed.isna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueInputError(
                f"calibration_summary: column {column!r} row {row} value {dates.iloc[row]!r} "
                f"is not a date in format {date_format or 'ISO 8601'!r}"
            )
        dates = parsed
    if dates.dt.tz is not None:
        dates = dates.dt.tz_localize(None)
    # Day resolution: same-day purchases merge, times of day do not matter.
    return dates.dt.floor("D").to_numpy().astype("datetime64[D]").astype(np.int64)


def _day_number(when: DateLike, name: str) -> int:
    try:
        stamp = pd.Timestamp(when)
    except (TypeError, ValueError) as exc:
        raise ValueInputError(f"calibration_summary: {name} {when!r} is not a date") from exc
    return int(np.datetime64(stamp.floor("D").tz_localize(None), "D").astype(np.int64))


def calibration_summary(
    transactions: pd.DataFrame,
    *,
    customer_col: str,
    date_col: str,
    value_col: str,
    calibration_end: DateLike,
    time_unit: TimeUnit = "weeks",
    observation_end: DateLike | None = None,
    date_format: str | None = None,
) -> pd.DataFrame:
    """Build the BG/NBD / Gamma-Gamma summary of a transaction log.

    Parameters
    ----------
    transactions:
        One row per transaction.
    customer_col, date_col, value_col:
        Customer key, purchase date (datetime, date string, or ``yyyymmdd`` integer with
        ``date_format="%Y%m%d"``) and monetary value columns.
    calibration_end:
        Last day of the calibration period (inclusive); ``T`` is measured to this date.
    time_unit:
        Unit of ``recency``, ``T`` and ``duration_holdout``.
    observation_end:
        Last day of an optional hold-out period after the calibration end.
    date_format:
        :func:`pandas.to_datetime` format of the date column when it is text or integer.

    Returns
    -------
    pandas.DataFrame
        Indexed by customer key (ascending, named ``customer_col``) with columns
        ``frequency``, ``recency``, ``T``, ``monetary_value`` and, with an observation end,
        ``frequency_holdout`` and ``duration_holdout``.

    Raises
    ------
    ValueInputError
        A column is missing, a customer key is empty, a date does not parse or a value is
        not a finite number.
    """
    what = "calibration_summary"
    require_columns(transactions, [customer_col, date_col, value_col], what)
    if time_unit not in TIME_UNIT_DAYS:
        raise ValueInputError(f"{what}: time_unit must be one of {sorted(TIME_UNIT_DAYS)}")
    keys = transactions[customer_col]
    if keys.isna().any():
        row = int(np.flatnonzero(keys.isna().to_numpy())[0])
        raise ValueInputError(f"{what}: column {customer_col!r} is empty in row {row}")
    codes, uniques = pd.factorize(keys, sort=True)
    day = _to_day_numbers(transactions[date_col], date_format, date_col)
    value = as_float_array(transactions[value_col], what, value_col, minimum=None)
    end_day = _day_number(calibration_end, "calibration_end")
    obs_day = None if observation_end is None else _day_number(observation_end, "observation_end")
    summary = summarize_purchase_days(
        codes,
        day,
        value,
        calibration_end_day=end_day,
        unit_days=TIME_UNIT_DAYS[time_unit],
        observation_end_day=obs_day,
    )
    out = pd.DataFrame(
        {
            "frequency": summary.frequency,
            "recency": summary.recency,
            "T": summary.T,
            "monetary_value": summary.monetary_value,
        },
        index=pd.Index(uniques[summary.customer], name=customer_col),
    )
    if obs_day is not None:
        out["frequency_holdout"] = summary.frequency_holdout
        out["duration_holdout"] = summary.duration_holdout
    return out
