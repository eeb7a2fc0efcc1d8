"""Point-in-time feature snapshots, as one Ibis expression per as-of date.

A snapshot describes every known customer as the bank could have seen them at the end of the
as-of date. Two filters make it reproducible:

* **load time** — only rows loaded on or before the snapshot's *load cut-off* count, and of
  each record the newest version loaded by then (the warehouse's versioning, replayed as of
  the cut-off). A correction loaded later cannot change an earlier snapshot.
* **event time** — only events on or before the as-of date (transactions and app events
  before the end of that day in the bank's time zone; dated rows on or before it).

Everything is built from Ibis expressions over :meth:`Warehouse.table`, so the same code runs
on every warehouse backend (DuckDB, Spark). The output columns are exactly
``as_of_date, customer_key, load_cutoff`` followed by :data:`~nextbest.profile.catalogue.FEATURES`.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.datatypes as dt

from nextbest.errors import NextbestError
from nextbest.profile.catalogue import (
    CHANNEL_MIX,
    FAMILY_GROUPS,
    FEATURES,
    SPEND_CATEGORIES,
    TXN_WINDOWS,
)
from nextbest.warehouse.base import newest_versions
from nextbest.warehouse.layout import physical_table

__all__ = [
    "SnapshotError",
    "SnapshotPoint",
    "TableSource",
    "known_at",
    "month_end_on_or_before",
    "shift_month_end",
    "snapshot_features",
]

_LOANS = ("consumer_loan", "mortgage", "car_loan")
_DIGITAL_CHANNELS = ("mobile_app", "online_banking")  # their counts are in the channel mix
assert set(_DIGITAL_CHANNELS) <= {c.value for c in CHANNEL_MIX}


class SnapshotError(NextbestError):
    """A snapshot cannot be computed with these arguments."""


class TableSource(Protocol):
    """What a snapshot reads: all stored versions of a table (``Warehouse.table``) and,
    where kept, its key index (``Warehouse.key_index``)."""

    def table(self, name: str) -> ibis.Table: ...

    def key_index(self, name: str) -> ibis.Table | None: ...


@dataclass(frozen=True)
class SnapshotPoint:
    """The as-of date and load cut-off of a snapshot.

    Attributes
    ----------
    as_of:
        Business date the snapshot describes (end of day, bank time).
    load_cutoff:
        Latest load time (``_loaded_at``) of rows the snapshot may read; time-zone aware.
    timezone:
        The bank's time zone; the as-of day ends at midnight there.
    """

    as_of: date
    load_cutoff: datetime
    timezone: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        if self.load_cutoff.tzinfo is None:
            raise SnapshotError(
                f"load cut-off {self.load_cutoff.isoformat()} must carry a time zone"
            )

    @property
    def day_end(self) -> datetime:
        """The instant the as-of day ends (midnight after it, bank time), in UTC."""
        local = datetime.combine(self.as_of + timedelta(days=1), time(), ZoneInfo(self.timezone))
        return local.astimezone(UTC)


def month_end_on_or_before(day: date) -> date:
    """The last month end on or before ``day`` (``day`` itself if it is one)."""
    last = calendar.monthrange(day.year, day.month)[1]
    if day.day == last:
        return day
    return date(day.year, day.month, 1) - timedelta(days=1)


def shift_month_end(month_end: date, months: int) -> date:
    """The month end ``months`` months from ``month_end`` (negative: earlier)."""
    index = month_end.year * 12 + month_end.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, calendar.monthrange(year, month + 1)[1])


def _instant(value: datetime) -> ibis.Value:
    return ibis.literal(value.astimezone(UTC), type=dt.Timestamp(timezone="UTC"))


def known_at(
    source: TableSource,
    name: str,
    cutoff: datetime,
    where: Callable[[ibis.Table], ibis.Value] | None = None,
) -> ibis.Table:
    """Table ``name`` as it was known at ``cutoff``: newest version per key loaded by then.

    The same ordering as ``Warehouse.current`` (latest load time, then greater batch id),
    applied only to rows with ``_loaded_at <= cutoff``; system columns are dropped.
    ``where`` may restrict the *key columns* before versions are chosen (every version of a
    key shares its key values, so this equals filtering afterwards, on fewer rows).
    """
    spec = physical_table(name)
    loaded = spec.loaded_at_column

    def rows(t: ibis.Table) -> ibis.Value:
        known = t[loaded] <= _instant(cutoff)
        return known & where(t) if where is not None else known

    system = [c.name for c in spec.system_columns]
    versions = newest_versions(source.table(name), spec, rows, source.key_index(name))
    return versions.drop(*system)


def _whole_years(start: ibis.Value, day: date) -> ibis.Value:
    later = (start.month() > day.month) | ((start.month() == day.month) & (start.day() > day.day))
    return (day.year - start.year() - later.cast("int64")).cast("int64")


def _whole_months(start: ibis.Value, day: date) -> ibis.Value:
    months = (day.year - start.year()) * 12 + (day.month - start.month())
    months = months - (start.day() > day.day).cast("int64")
    return (start <= ibis.literal(day)).ifelse(months.cast("int64"), ibis.null("int64"))


def _days_before(day: date, value: ibis.Value) -> ibis.Value:
    """Whole days from ``value`` (a date) to ``day``."""
    return (day - date(1970, 1, 1)).days - value.epoch_days()


@ibis.udf.scalar.builtin(name="unix_micros")
def _unix_micros(instant: dt.Timestamp(timezone="UTC")) -> dt.int64:  # type: ignore[valid-type]
    """Microseconds since 1970-01-01 UTC (Spark's ``unix_micros``, DuckDB's ``epoch_us``)."""


@ibis.udf.scalar.builtin(name="bit_count")
def _bit_count(bits: dt.int64) -> dt.int8:
    """Number of set bits (a TINYINT on DuckDB, an INT on Spark: cast before adding)."""


@ibis.udf.agg.builtin(name="bit_or")
def _bit_or(bits: dt.int64) -> dt.int64:
    """Bitwise OR of a group's values (nulls ignored)."""


_DAY_US = 86_400_000_000
#: Days per bitmap word in :func:`_day_bitmaps`: a BIGINT's bits below its sign bit, less one.
_WORD_DAYS = 62


def _offset_steps(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """The zone's UTC offset (microseconds) over [start, end]: (from instant, offset) steps.

    Found hour by hour, each change narrowed to the second; a zone without transitions in the
    range (China's since 1991) gives one step.
    """

    def offset(at: datetime) -> int:
        delta = at.astimezone(zone).utcoffset()
        assert delta is not None
        return int(delta.total_seconds()) * 1_000_000

    steps = [(start, offset(start))]
    hour = timedelta(hours=1)
    at = start
    while at < end:
        nxt = min(at + hour, end)
        if offset(nxt) != steps[-1][1]:
            low, high = at, nxt  # offset(low) is the old one, offset(high) the new
            while high - low > timedelta(seconds=1):
                mid = low + (high - low) / 2
                low, high = (mid, high) if offset(mid) == steps[-1][1] else (low, mid)
            steps.append((high, offset(high)))
        at = nxt
    return steps


def _days_ago(instant: ibis.Value, point: SnapshotPoint, days: int) -> ibis.Value:
    """Whole bank-time days from the day of ``instant`` to the as-of date (0 on the as-of day).

    Integer arithmetic on the UTC epoch plus the zone's offset, instead of converting every
    row to a calendar date (a time-zone library call per row, the costliest part of a
    snapshot over tens of millions of transactions). Exact for instants from ``days`` days
    before the as-of date up to its end; earlier instants get the offset of the range's first
    day, so they still count as at least ``days`` days ago.
    """
    zone = ZoneInfo(point.timezone)
    start = point.day_end - timedelta(days=days + 1)
    steps = _offset_steps(zone, start, point.day_end)
    offset: ibis.Value = ibis.literal(steps[0][1], type="int64")
    for at, value in steps[1:]:
        offset = (instant >= _instant(at)).ifelse(value, offset)
    # FLOOR of a double quotient is exact: microseconds stay below 2**53 until the year 2255
    day = (_unix_micros(instant) + offset) // _DAY_US
    return (point.as_of - date(1970, 1, 1)).days - day


def _day_bitmaps(days_ago: ibis.Value, active: ibis.Value, days: int) -> list[ibis.Value]:
    """Aggregates: per group, bitmaps of the days (bit ``d`` of word ``d // 62``: ``d`` days
    ago) with an ``active`` row, over the last ``days`` days.

    Counting distinct days as set bits (:func:`_distinct_days`) replaces ``COUNT(DISTINCT
    day)``, which needs a hash table of (group, day) pairs per window.
    """
    words = []
    for first in range(0, days, _WORD_DAYS):
        inside = active & (days_ago >= first) & (days_ago < min(days, first + _WORD_DAYS))
        # 2**61 is a BIGINT literal in every engine, so the shift cannot overflow an INT
        bit = ibis.literal(2**61) >> (61 - (days_ago - first))
        words.append(_bit_or(inside.ifelse(bit, ibis.null("int64"))))
    return words


def _distinct_days(words: Sequence[ibis.Value], days: int) -> ibis.Value:
    """Days among the last ``days`` set in :func:`_day_bitmaps` words (0 without any)."""
    total: ibis.Value = ibis.literal(0, type="int64")
    for i, word in enumerate(words):
        first = i * _WORD_DAYS
        if first >= days:
            break
        mask = 2 ** min(_WORD_DAYS, days - first) - 1
        total = total + _bit_count(word.fill_null(0) & mask).cast("int64")
    return total


def _share(part: ibis.Value, total: ibis.Value) -> ibis.Value:
    return (total > 0).ifelse(part.cast("float64") / total.cast("float64"), ibis.null("float64"))


def _customers(src: TableSource, point: SnapshotPoint) -> ibis.Table:
    c = known_at(src, "customer", point.load_cutoff)
    day = point.as_of
    return c.select(
        "customer_key",
        age=_whole_years(c.birth_date, day),
        gender=c.gender,
        city_tier=c.city_tier,
        province=c.province,
        occupation=c.occupation,
        education=c.education,
        annual_income=c.annual_income.cast("float64"),
        onboarding_date=c.onboarding_date,
        tenure_months=_whole_months(c.onboarding_date, day),
    )


def _accounts(src: TableSource, point: SnapshotPoint) -> ibis.Table:
    """Accounts opened on or before the as-of date, with product family and margin."""
    a = known_at(src, "account", point.load_cutoff)
    p = known_at(src, "product", point.load_cutoff).select(
        "product_code", "family", "margin_rate", "annual_fee"
    )
    a = a.filter(a.opened_on <= ibis.literal(point.as_of))
    a = a.left_join(p, "product_code")
    is_open = a.closed_on.isnull() | (a.closed_on > ibis.literal(point.as_of))
    return a.mutate(is_open=is_open)


def _holdings(accounts: ibis.Table, point: SnapshotPoint) -> ibis.Table:
    a = accounts
    day = ibis.literal(point.as_of)
    metrics: dict[str, ibis.Value] = {
        "account_count": a.account_key.count(where=a.is_open),
        "product_count": a.product_code.nunique(where=a.is_open),
        "family_count": a.family.nunique(where=a.is_open),
        "first_product_date": a.opened_on.min(),
        "last_closed_date": a.closed_on.max(where=a.closed_on <= day),
        "credit_limit": a.credit_limit.cast("float64").sum(
            where=a.is_open & (a.family == "credit_card")
        ),
        "annual_fees": a.annual_fee.cast("float64").sum(where=a.is_open),
    }
    for fam in FAMILY_GROUPS:
        metrics[f"holds_{fam}"] = (a.is_open & (a.family == fam)).any()
    return a.group_by("customer_key").aggregate(**metrics)


def _balances(src: TableSource, accounts: ibis.Table, point: SnapshotPoint) -> ibis.Table:
    m0 = month_end_on_or_before(point.as_of)
    m3, m6 = shift_month_end(m0, -3), shift_month_end(m0, -6)
    b = known_at(src, "balance", point.load_cutoff, lambda t: t.month_end.isin([m0, m3, m6]))
    # One row per account first (its balances at the three month ends; null where it has
    # none), so the wide per-customer aggregate below reads a third of the rows.
    end_bal = b.month_end_balance.cast("float64")
    at = {m: b.month_end == ibis.literal(m) for m in (m0, m3, m6)}
    per_account = b.group_by("account_key").aggregate(
        end_0=end_bal.sum(where=at[m0]),
        end_3=end_bal.sum(where=at[m3]),
        end_6=end_bal.sum(where=at[m6]),
        adb=b.avg_daily_balance.cast("float64").sum(where=at[m0]),
    )
    owners = accounts.select("account_key", "customer_key", "family", "margin_rate")
    a = per_account.join(owners, "account_key")
    # conditions shared by many aggregates, as columns: evaluated once per row
    a = a.mutate(group=a.family.cases(*FAMILY_GROUPS.items(), else_="other"))
    a = a.mutate(is_asset=a.group.isin(["deposit", "investment"]))
    adb, end_0, is_asset = a.adb, a.end_0, a.is_asset
    metrics: dict[str, ibis.Value] = {
        "aum": end_0.sum(where=is_asset),
        "aum_adb": adb.sum(where=is_asset),
        "deposit_adb": adb.sum(where=a.group == "deposit"),
        "investment_adb": adb.sum(where=a.group == "investment"),
        "loan_balance": end_0.sum(where=a.family.isin(_LOANS)),
        "aum_3m_ago": a.end_3.sum(where=is_asset),
        "aum_6m_ago": a.end_6.sum(where=is_asset),
        "card_balance": end_0.sum(where=a.family == "credit_card"),
        "balance_margin": (adb * a.margin_rate.cast("float64")).sum(),
    }
    for fam in FAMILY_GROUPS:
        metrics[f"adb_{fam}"] = adb.sum(where=a.family == fam)
    return a.group_by("customer_key").aggregate(**metrics)


def _transactions(src: TableSource, point: SnapshotPoint) -> ibis.Table:
    t = known_at(src, "transaction", point.load_cutoff)
    t = t.filter(t.txn_time < _instant(point.day_end))
    longest = max(TXN_WINDOWS)
    t = t.mutate(days_ago=_days_ago(t.txn_time, point, longest))  # a column: computed once
    days_ago = t.days_ago
    # Salary: the as-of month and the five calendar months before it.
    as_of_month = point.as_of.year * 12 + point.as_of.month - 1
    month_starts = [date(y, m + 1, 1) for y, m in (divmod(as_of_month - k, 12) for k in range(6))]
    salary_days_ago = [(point.as_of - start).days for start in month_starts]
    # conditions shared by many aggregates, as columns so that each is evaluated once per row
    ci = t.channel != "system"
    t = t.mutate(
        amount=t.amount.cast("float64"),
        ci=ci,
        spend=ci
        & (days_ago < 365)
        & (t.direction == "debit")
        & t.merchant_category.notnull()
        & (t.merchant_category != "none"),
        recent90=ci & (days_ago < 90),
        salary=(t.direction == "credit")
        & (t.counterparty_type == "employer")
        & (days_ago <= salary_days_ago[-1]),
    )
    days_ago, amount, ci, spend, recent90 = t.days_ago, t.amount, t.ci, t.spend, t.recent90
    salary = t.salary
    # the month of a salary credit, as a bit: 1 in the as-of month, 2 the month before, ...
    month_bit = ibis.cases(*((days_ago <= start, 2**k) for k, start in enumerate(salary_days_ago)))
    metrics: dict[str, ibis.Value] = {
        "last_txn_time": t.txn_time.max(where=ci),
        "spend_amount_365d": amount.sum(where=spend),
        "txn_count_prev_90d": t.count(where=ci & (days_ago >= 90) & (days_ago < 180)),
        "salary_total_6m": amount.sum(where=salary),
        "_salary_months": _bit_or(salary.ifelse(month_bit.cast("int64"), ibis.null("int64"))),
    }
    words = _day_bitmaps(days_ago, ci, longest)
    metrics |= {f"_days_{i}": word for i, word in enumerate(words)}
    for w in TXN_WINDOWS:
        inside = ci & (days_ago < w)
        metrics[f"txn_count_{w}d"] = t.count(where=inside)
        metrics[f"txn_amount_{w}d"] = amount.sum(where=inside)
    for cat in SPEND_CATEGORIES:
        metrics[f"spend_{cat.value}"] = amount.sum(where=spend & (t.merchant_category == cat.value))
    for ch in CHANNEL_MIX:
        metrics[f"channel_{ch.value}"] = t.count(where=recent90 & (t.channel == ch.value))
    a = t.group_by("customer_key").aggregate(**metrics)
    found = [a[f"_days_{i}"] for i in range(len(words))]
    derived = {f"txn_days_{w}d": _distinct_days(found, w) for w in TXN_WINDOWS}
    derived["salary_months_6m"] = _bit_count(a._salary_months.fill_null(0)).cast("int64")
    digital = [a[f"channel_{ch}"] for ch in _DIGITAL_CHANNELS]
    derived["digital_txn_90d"] = sum(digital[1:], digital[0])
    return a.mutate(**derived).drop("_salary_months", *(f"_days_{i}" for i in range(len(words))))


def _digital(src: TableSource, point: SnapshotPoint) -> ibis.Table:
    e = known_at(src, "digital_event", point.load_cutoff)
    e = e.filter(e.event_time < _instant(point.day_end))
    e = e.mutate(days_ago=_days_ago(e.event_time, point, 90))
    days_ago = e.days_ago
    login = e.event_type == "login"
    return e.group_by("customer_key").aggregate(
        logins_30d=e.event_id.count(where=login & (days_ago < 30)),
        logins_90d=e.event_id.count(where=login & (days_ago < 90)),
        digital_events_90d=e.event_id.count(where=days_ago < 90),
        last_login_time=e.event_time.max(where=login),
    )


def _credit(src: TableSource, point: SnapshotPoint) -> tuple[ibis.Table, ibis.Table]:
    day = ibis.literal(point.as_of)
    i = known_at(src, "credit_instalment", point.load_cutoff)
    i = i.filter(i.due_date <= day)
    unpaid = i.paid_date.isnull() | (i.paid_date > day)
    overdue = i.group_by("customer_key").aggregate(
        days_past_due=_days_before(point.as_of, i.due_date).max(where=unpaid)
    )
    d = known_at(src, "default_event", point.load_cutoff)
    d = d.filter(d.default_date <= day)
    defaults = d.group_by("customer_key").aggregate(
        defaulted_12m=(_days_before(point.as_of, d.default_date) < 365).any(),
        defaulted_ever=d.account_key.count() > 0,
    )
    return overdue, defaults


def _risk(src: TableSource, point: SnapshotPoint) -> ibis.Table:
    r = known_at(src, "risk_assessment", point.load_cutoff)
    r = r.filter(r.assessed_on <= ibis.literal(point.as_of))
    latest = ibis.row_number().over(group_by=r.customer_key, order_by=r.assessed_on.desc())
    r = r.mutate(_n=latest).filter(ibis._._n == 0)
    return r.select(
        "customer_key",
        risk_level=r.risk_level,
        risk_assessed_on=r.assessed_on,
        risk_expires_on=r.expires_on,
        risk_valid=r.expires_on > ibis.literal(point.as_of),
    )


def _attach(base: ibis.Table, parts: Sequence[ibis.Table]) -> ibis.Table:
    for part in parts:
        base = base.left_join(part, "customer_key")
    return base


def snapshot_features(source: TableSource, point: SnapshotPoint) -> ibis.Table:
    """The feature snapshot of every customer known at ``point``, as a lazy Ibis table.

    Parameters
    ----------
    source:
        The warehouse (anything with ``table(name)`` returning all stored versions).
    point:
        As-of date, load cut-off and the bank's time zone.

    Returns
    -------
    ibis.Table
        One row per customer known at the load cut-off: ``as_of_date``, ``customer_key``,
        ``load_cutoff`` and every catalogue feature, typed as the catalogue says.
    """
    accounts = _accounts(source, point)
    overdue, defaults = _credit(source, point)
    joined = _attach(
        _customers(source, point),
        [
            _holdings(accounts, point),
            _balances(source, accounts, point),
            _transactions(source, point),
            _digital(source, point),
            overdue,
            defaults,
            _risk(source, point),
        ],
    )
    return _finish(joined, point)


def _finish(j: ibis.Table, point: SnapshotPoint) -> ibis.Table:
    zero = ibis.literal(0.0)
    day = point.as_of
    spend = j.spend_amount_365d.fill_null(zero)
    recent90 = j.txn_count_90d.fill_null(0)
    aum = j.aum.fill_null(zero)
    aum3 = j.aum_3m_ago.fill_null(zero)
    aum6 = j.aum_6m_ago.fill_null(zero)
    # bank-time dates of the last instants: one conversion per customer, not per row
    last_txn = j.last_txn_time.date()
    last_login = j.last_login_time.date()
    last_activity = ibis.greatest(last_txn, last_login)
    last_activity = last_txn.isnull().ifelse(last_login, last_activity)
    last_activity = last_login.isnull().ifelse(last_txn, last_activity)
    values: dict[str, ibis.Value] = {
        "as_of_date": ibis.literal(day),
        "customer_key": j.customer_key,
        "load_cutoff": _instant(point.load_cutoff),
        "age": j.age,
        "gender": j.gender,
        "city_tier": j.city_tier,
        "province": j.province,
        "occupation": j.occupation,
        "education": j.education,
        "annual_income": j.annual_income,
        "onboarding_date": j.onboarding_date,
        "tenure_months": j.tenure_months,
        "account_count": j.account_count.fill_null(0),
        "product_count": j.product_count.fill_null(0),
        "family_count": j.family_count.fill_null(0),
        "ever_held": j.first_product_date.notnull(),
        "first_product_date": j.first_product_date,
        "months_since_first_product": _whole_months(j.first_product_date, day),
        "last_closed_date": j.last_closed_date,
    }
    for fam in FAMILY_GROUPS:
        values[f"holds_{fam}"] = j[f"holds_{fam}"].fill_null(False)
    values |= {
        "balance_month_end": ibis.literal(month_end_on_or_before(day)),
        "aum": aum,
        "aum_adb": j.aum_adb.fill_null(zero),
        "deposit_adb": j.deposit_adb.fill_null(zero),
        "investment_adb": j.investment_adb.fill_null(zero),
        "loan_balance": j.loan_balance.fill_null(zero),
    }
    for fam in FAMILY_GROUPS:
        values[f"adb_{fam}"] = j[f"adb_{fam}"].fill_null(zero)
    values |= {
        "aum_3m_ago": aum3,
        "aum_6m_ago": aum6,
        "aum_trend_3m": (aum3 > 0).ifelse(aum / aum3 - 1.0, ibis.null("float64")),
        "aum_change_6m": (aum6 > 0).ifelse(aum / aum6 - 1.0, ibis.null("float64")),
        "annual_margin": j.balance_margin.fill_null(zero) + j.annual_fees.fill_null(zero),
        "last_txn_date": last_txn,
        "days_since_last_txn": _days_before(day, last_txn),
    }
    for w in TXN_WINDOWS:
        values[f"txn_count_{w}d"] = j[f"txn_count_{w}d"].fill_null(0)
        values[f"txn_amount_{w}d"] = j[f"txn_amount_{w}d"].fill_null(zero)
        values[f"txn_days_{w}d"] = j[f"txn_days_{w}d"].fill_null(0)
    prev = j.txn_count_prev_90d.fill_null(0)
    values |= {
        "spend_amount_365d": spend,
        "txn_count_trend_3m": _share(recent90, prev),
    }
    for cat in SPEND_CATEGORIES:
        values[f"spend_share_{cat.value}"] = _share(j[f"spend_{cat.value}"].fill_null(zero), spend)
    for ch in CHANNEL_MIX:
        count = j[f"channel_{ch.value}"].fill_null(0)
        values[f"channel_share_{ch.value}"] = _share(count, recent90)
    salary_months = j.salary_months_6m.fill_null(0)
    values |= {
        "digital_txn_share_90d": _share(j.digital_txn_90d.fill_null(0), recent90),
        "salary_months_6m": salary_months,
        "salary_avg_6m": _share(j.salary_total_6m.fill_null(zero), salary_months),
        "logins_30d": j.logins_30d.fill_null(0),
        "logins_90d": j.logins_90d.fill_null(0),
        "digital_events_90d": j.digital_events_90d.fill_null(0),
        "days_since_last_login": _days_before(day, last_login),
        "days_since_last_activity": _days_before(day, last_activity),
        "credit_limit": j.credit_limit.fill_null(zero),
        "card_balance": j.card_balance.fill_null(zero),
        "credit_utilisation": _share(j.card_balance.fill_null(zero), j.credit_limit),
        "days_past_due": j.days_past_due.fill_null(0),
        "defaulted_12m": j.defaulted_12m.fill_null(False),
        "defaulted_ever": j.defaulted_ever.fill_null(False),
        "risk_level": j.risk_level,
        "risk_assessed_on": j.risk_assessed_on,
        "risk_expires_on": j.risk_expires_on,
        "risk_valid": j.risk_valid.fill_null(False),
    }
    types = {"string": "string", "int": "int64", "float": "float64", "date": "date"}
    out = {name: values[name] for name in ("as_of_date", "customer_key", "load_cutoff")}
    for f in FEATURES:
        out[f.name] = values[f.name].cast("boolean" if f.dtype == "bool" else types[f.dtype])
    return j.select(**out)
