"""Point-in-time feature snapshots on the hand-built bank: known answers and no leakage."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest

from nextbest.profile.catalogue import FEATURES
from nextbest.profile.features import (
    SnapshotError,
    SnapshotPoint,
    month_end_on_or_before,
    shift_month_end,
    snapshot_features,
)
from nextbest.warehouse.duckdb import DuckDBWarehouse
from tests.profile.bank import AS_OF, T_LOAD, transactions


def _snapshot(wh: DuckDBWarehouse, point: SnapshotPoint) -> pa.Table:
    return wh.to_arrow(snapshot_features(wh, point).order_by("customer_key"))


def _rows(table: pa.Table) -> dict[str, dict]:
    return {r["customer_key"]: r for r in table.to_pylist()}


def test_columns_follow_the_catalogue(bank: DuckDBWarehouse) -> None:
    expr = snapshot_features(bank, SnapshotPoint(AS_OF, T_LOAD))
    assert list(expr.columns) == ["as_of_date", "customer_key", "load_cutoff"] + [
        f.name for f in FEATURES
    ]
    schema = expr.schema()
    kinds = {"int": "is_integer", "float": "is_floating", "date": "is_date",
             "bool": "is_boolean", "string": "is_string"}  # fmt: skip
    for f in FEATURES:
        assert getattr(schema[f.name], kinds[f.dtype])(), f.name


def test_known_answers(bank: DuckDBWarehouse) -> None:
    rows = _rows(_snapshot(bank, SnapshotPoint(AS_OF, T_LOAD)))
    assert set(rows) == {"c_payroll", "c_mature", "c_new", "c_dormant", "c_churned",
                         "c_prospect"}  # fmt: skip
    p = rows["c_payroll"]
    assert p["age"] == 33  # born 1990-07-01: 34th birthday is the day after the as-of date
    assert p["tenure_months"] == 53
    assert (p["account_count"], p["product_count"], p["family_count"]) == (3, 3, 3)
    assert p["aum"] == 76000.0 and p["aum_3m_ago"] == 73000.0 and p["aum_6m_ago"] == 70000.0
    assert p["aum_adb"] == pytest.approx(68400.0)
    assert p["annual_margin"] == pytest.approx(23400 * 0.015 + 45000 * 0.006 + 4500 * 0.03 + 100)
    # 23:00 local on the as-of date counts (15:00 UTC); salary every month, system channel
    assert p["last_txn_date"] == AS_OF and p["days_since_last_txn"] == 0
    assert p["salary_months_6m"] == 6 and p["salary_avg_6m"] == 15000.0
    assert p["txn_count_30d"] == 3 and p["txn_count_90d"] == 6 and p["txn_count_365d"] == 8
    assert p["spend_amount_365d"] == 1250.0
    assert p["spend_share_dining"] == pytest.approx(950 / 1250)
    assert p["channel_share_mobile_app"] == pytest.approx(4 / 6)
    assert p["logins_30d"] == 2 and p["logins_90d"] == 3 and p["days_since_last_login"] == 1
    assert p["credit_limit"] == 50000.0 and p["credit_utilisation"] == pytest.approx(0.1)
    assert p["days_past_due"] == 15  # due 2024-06-15, unpaid
    assert p["risk_level"] == "C3" and p["risk_valid"] is False  # expired 2024-05-01
    m = rows["c_mature"]
    assert m["holds_mortgage"] and m["loan_balance"] == 870000.0 and m["aum"] == 380000.0
    assert m["days_past_due"] == 0 and m["risk_valid"] is True
    assert rows["c_churned"]["account_count"] == 0 and rows["c_churned"]["ever_held"]
    assert rows["c_churned"]["aum_change_6m"] == -1.0
    assert rows["c_dormant"]["days_since_last_txn"] == 212  # system interest is not activity
    q = rows["c_prospect"]
    assert not q["ever_held"] and q["aum"] == 0.0 and q["days_since_last_activity"] is None


def test_event_time_cut_at_the_end_of_the_as_of_day(bank: DuckDBWarehouse) -> None:
    rows = _rows(_snapshot(bank, SnapshotPoint(AS_OF - timedelta(days=1), T_LOAD)))
    p = rows["c_payroll"]
    assert p["last_txn_date"] == date(2024, 6, 20)
    assert p["balance_month_end"] == date(2024, 5, 31) and p["aum"] == 75000.0


def _late_data(wh: DuckDBWarehouse, loaded_at: datetime) -> None:
    """Future transactions, a back-dated correction and a new back-dated transaction."""
    txns = transactions()
    first = txns.slice(0, 1).to_pylist()[0]
    corrected = {**first, "amount": 99999.0}  # correction of a June-10 salary credit... (Jan)
    future = {**first, "txn_id": "t_future", "txn_time": datetime(2024, 7, 3, tzinfo=UTC)}
    backdated = {
        **first, "txn_id": "t_late", "txn_time": datetime(2024, 6, 29, 4, tzinfo=UTC),
        "channel": "mobile_app", "direction": "debit", "merchant_category": "travel",
        "amount": 8000.0, "counterparty_type": "merchant",
    }  # fmt: skip
    with wh.batch("b_late", loaded_at=loaded_at) as w:
        w.append(
            "transaction", pa.Table.from_pylist([corrected, future, backdated], schema=txns.schema)
        )
        w.append(
            "customer",
            pa.table(
                {
                    "customer_key": ["c_late"],
                    "source_system": ["core"],
                    "onboarding_date": [date(2024, 1, 1)],
                }
            ),
        )
        w.append("balance", pa.table({"account_key": ["a_pay_hq"],
                                      "month_end": [date(2024, 6, 30)],
                                      "month_end_balance": [1.0],
                                      "avg_daily_balance": [1.0]}))  # fmt: skip


def test_late_and_future_data_do_not_change_an_earlier_snapshot(bank: DuckDBWarehouse) -> None:
    point = SnapshotPoint(AS_OF, T_LOAD)
    before = _snapshot(bank, point)
    _late_data(bank, T_LOAD + timedelta(days=3))
    again = _snapshot(bank, point)
    assert again.equals(before)
    # ... while a later cut-off sees the corrections, so the check above can fail
    later = _rows(_snapshot(bank, SnapshotPoint(AS_OF, T_LOAD + timedelta(days=3))))
    assert "c_late" in later
    assert later["c_payroll"]["aum"] == 76000.0 - 26000.0 + 1.0
    assert later["c_payroll"]["spend_share_travel"] > 0
    assert later["c_payroll"]["salary_avg_6m"] > 15000.0


def test_month_end_arithmetic() -> None:
    assert month_end_on_or_before(date(2024, 3, 15)) == date(2024, 2, 29)
    assert month_end_on_or_before(date(2024, 3, 31)) == date(2024, 3, 31)
    assert shift_month_end(date(2024, 2, 29), -3) == date(2023, 11, 30)
    assert shift_month_end(date(2024, 11, 30), 3) == date(2025, 2, 28)


def test_naive_cutoff_is_refused() -> None:
    with pytest.raises(SnapshotError, match="time zone"):
        SnapshotPoint(AS_OF, datetime(2024, 7, 1))


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Asia/Shanghai"])
def test_days_ago_follows_the_zone_across_offset_changes(zone: str) -> None:
    """Integer day arithmetic gives the bank-time calendar day, daylight saving included."""
    from zoneinfo import ZoneInfo

    import ibis
    import ibis.expr.datatypes as dt

    from nextbest.profile.features import _days_ago

    as_of = date(2025, 11, 30)
    point = SnapshotPoint(as_of, T_LOAD, timezone=zone)
    # every 20 minutes through both 2025 changes of Europe and the US, and around as-of midnight
    starts = [datetime(2025, 3, 8, tzinfo=UTC), datetime(2025, 3, 29, tzinfo=UTC),
              datetime(2025, 10, 25, tzinfo=UTC), datetime(2025, 11, 1, tzinfo=UTC),
              point.day_end - timedelta(days=1)]  # fmt: skip
    instants = [s + timedelta(minutes=20 * i) for s in starts for i in range(3 * 72)]
    instants = [t for t in instants if t < point.day_end]
    con = ibis.duckdb.connect()
    con.raw_sql(f"SET TimeZone = '{zone}'")
    t = ibis.memtable(pa.table({"at": pa.array(instants, pa.timestamp("us", tz="UTC"))}))
    t = t.cast({"at": dt.Timestamp(timezone="UTC")})
    got = con.to_pyarrow(t.select(t.at, d=_days_ago(t.at, point, 365))).to_pylist()
    local = ZoneInfo(zone)
    expected = {at: (as_of - at.astimezone(local).date()).days for at in instants}
    assert {r["at"]: r["d"] for r in got} == expected
