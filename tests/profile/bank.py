"""A tiny hand-built bank in canonical tables, with known answers for every feature.

Six customers, each the textbook case of one lifecycle stage on the as-of date 2024-06-30:

* ``c_payroll`` — active payroll customer: salary credits every month, card spending, logins;
* ``c_mature`` — five years with deposits, a fund and a mortgage (three families), active;
* ``c_new`` — first product opened 2024-03-01;
* ``c_dormant`` — products since 2019, last transaction 2023-12-01, no logins;
* ``c_churned`` — every account closed on 2024-02-01;
* ``c_prospect`` — known customer without any product.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from nextbest.warehouse import Warehouse
from nextbest.warehouse.duckdb import DuckDBWarehouse

AS_OF = date(2024, 6, 30)
T_LOAD = datetime(2024, 7, 1, 2, 0, tzinfo=UTC)  # the nightly load after the as-of date
CUSTOMERS = ("c_payroll", "c_mature", "c_new", "c_dormant", "c_churned", "c_prospect")

PRODUCTS = [
    # code, family, risk, margin_rate, annual_fee
    ("HQ001", "demand_deposit", "R1", 0.015, 0),
    ("DQ012", "time_deposit", "R1", 0.008, 0),
    ("WM302", "wealth_management", "R2", 0.006, 0),
    ("FD402", "fund", "R2", 0.006, 0),
    ("CC701", "credit_card", "R1", 0.03, 100),
    ("ML901", "mortgage", "R1", 0.012, 0),
]

ACCOUNTS = [
    # account, customer, product, opened, closed, limit
    ("a_pay_hq", "c_payroll", "HQ001", date(2023, 1, 15), None, None),
    ("a_pay_wm", "c_payroll", "WM302", date(2023, 6, 1), None, None),
    ("a_pay_cc", "c_payroll", "CC701", date(2023, 3, 1), None, 50000),
    ("a_mat_hq", "c_mature", "HQ001", date(2018, 2, 1), None, None),
    ("a_mat_dq", "c_mature", "DQ012", date(2019, 1, 1), None, None),
    ("a_mat_fd", "c_mature", "FD402", date(2019, 5, 1), None, None),
    ("a_mat_ml", "c_mature", "ML901", date(2020, 8, 1), None, None),
    ("a_new_hq", "c_new", "HQ001", date(2024, 3, 1), None, None),
    ("a_dor_hq", "c_dormant", "HQ001", date(2019, 4, 1), None, None),
    ("a_chu_hq", "c_churned", "HQ001", date(2021, 1, 1), date(2024, 2, 1), None),
]

MONTH_ENDS = [
    date(2023, 12, 31), date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31),
    date(2024, 4, 30), date(2024, 5, 31), date(2024, 6, 30),
]  # fmt: skip
BALANCES = {
    # account -> month-end balance per month in MONTH_ENDS (adb = 0.9 × month end)
    "a_pay_hq": [20000, 21000, 22000, 23000, 24000, 25000, 26000],
    "a_pay_wm": [50000] * 7,
    "a_pay_cc": [5000] * 7,
    "a_mat_hq": [80000] * 7,
    "a_mat_dq": [200000] * 7,
    "a_mat_fd": [100000] * 7,
    "a_mat_ml": [900000, 895000, 890000, 885000, 880000, 875000, 870000],
    "a_new_hq": [None, None, None, 1000, 3000, 5000, 8000],
    "a_dor_hq": [12000] * 7,
    "a_chu_hq": [3000, 1500, None, None, None, None, None],
}


def _ts(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def customers() -> pa.Table:
    return pa.table(
        {
            "customer_key": list(CUSTOMERS),
            "source_system": ["core"] * 6,
            "gender": ["F", "M", "F", "M", "F", "M"],
            "birth_date": [
                date(1990, 7, 1), date(1970, 3, 3), date(2001, 6, 30),
                date(1960, 1, 1), date(1985, 12, 12), date(1995, 5, 5),
            ],
            "city_tier": [1, 1, 2, 3, 2, 1],
            "occupation": ["private_employee", "business_owner", "student", "retired",
                           "civil_servant", "professional"],
            "annual_income": [240000.0, 1200000.0, 10000.0, 60000.0, 150000.0, 300000.0],
            "onboarding_date": [
                date(2020, 1, 15), date(2018, 2, 1), date(2024, 3, 1),
                date(2019, 4, 1), date(2021, 1, 1), date(2024, 5, 1),
            ],
        }
    )  # fmt: skip


def products() -> pa.Table:
    return pa.table(
        {
            "product_code": [p[0] for p in PRODUCTS],
            "name_zh": [p[0] for p in PRODUCTS],
            "family": [p[1] for p in PRODUCTS],
            "risk_level": [p[2] for p in PRODUCTS],
            "margin_rate": [p[3] for p in PRODUCTS],
            "annual_fee": [float(p[4]) for p in PRODUCTS],
        }
    )


def accounts() -> pa.Table:
    return pa.table(
        {
            "account_key": [a[0] for a in ACCOUNTS],
            "customer_key": [a[1] for a in ACCOUNTS],
            "product_code": [a[2] for a in ACCOUNTS],
            "opened_on": [a[3] for a in ACCOUNTS],
            "closed_on": pa.array([a[4] for a in ACCOUNTS], pa.date32()),
            "status": ["closed" if a[4] else "active" for a in ACCOUNTS],
            "credit_limit": pa.array([a[5] for a in ACCOUNTS], pa.float64()),
            "currency": ["CNY"] * len(ACCOUNTS),
        }
    )


def balances() -> pa.Table:
    rows: dict[str, list] = {k: [] for k in ("account_key", "month_end", "eb", "adb")}
    for account, values in BALANCES.items():
        for month_end, value in zip(MONTH_ENDS, values, strict=True):
            if value is None:
                continue
            rows["account_key"].append(account)
            rows["month_end"].append(month_end)
            rows["eb"].append(float(value))
            rows["adb"].append(float(value) * 0.9)
    return pa.table(
        {
            "account_key": rows["account_key"],
            "month_end": rows["month_end"],
            "month_end_balance": rows["eb"],
            "avg_daily_balance": rows["adb"],
        }
    )


def transactions() -> pa.Table:
    """Each row: (id, account, customer, day, amount, direction, channel, category, cpty)."""
    rows = []
    n = 0

    def add(acct, cust, day, amount, direction, channel, cat=None, cpty=None, hour=12):
        nonlocal n
        n += 1
        rows.append(
            (f"t{n:04d}", acct, cust, _ts(day, hour), amount, direction, channel, cat, cpty)
        )

    # payroll: salary on the 10th of every month Jan–Jun 2024 (system channel, employer)
    for m in range(1, 7):
        add(
            "a_pay_hq",
            "c_payroll",
            date(2024, m, 10),
            15000,
            "credit",
            "system",
            "none",
            "employer",
        )
    # payroll card spending: dining on the 1st, grocery on the 20th of Apr–Jun
    for m in (4, 5, 6):
        add("a_pay_cc", "c_payroll", date(2024, m, 1), 300, "debit", "pos", "dining", "merchant")
        add(
            "a_pay_cc",
            "c_payroll",
            date(2024, m, 20),
            100,
            "debit",
            "mobile_app",
            "grocery",
            "merchant",
        )
    # an older transfer (Jan) via counter, and a 23:30 local (15:30 UTC) late-evening one
    add("a_pay_hq", "c_payroll", date(2024, 1, 5), 2000, "debit", "counter", "none", "individual")
    add(
        "a_pay_hq",
        "c_payroll",
        date(2024, 6, 30),
        50,
        "debit",
        "mobile_app",
        "dining",
        "merchant",
        hour=15,
    )
    # mature: monthly transfers via online banking
    for m in range(1, 7):
        add(
            "a_mat_hq",
            "c_mature",
            date(2024, m, 15),
            5000,
            "debit",
            "online_banking",
            "none",
            "own_account",
        )
    # new: a few app payments
    add(
        "a_new_hq",
        "c_new",
        date(2024, 5, 2),
        200,
        "debit",
        "mobile_app",
        "online_shopping",
        "merchant",
    )
    add(
        "a_new_hq",
        "c_new",
        date(2024, 6, 2),
        300,
        "debit",
        "mobile_app",
        "online_shopping",
        "merchant",
    )
    # dormant: last customer transaction 2023-12-01; interest only since (system)
    add("a_dor_hq", "c_dormant", date(2023, 12, 1), 500, "debit", "atm", "none", "none")
    add(
        "a_dor_hq",
        "c_dormant",
        date(2024, 3, 21),
        20,
        "credit",
        "system",
        "none",
        "financial_institution",
    )
    # churned: a last withdrawal before closing
    add("a_chu_hq", "c_churned", date(2024, 1, 20), 1500, "debit", "counter", "none", "none")
    cols = list(zip(*rows, strict=True))
    return pa.table(
        {
            "txn_id": list(cols[0]),
            "account_key": list(cols[1]),
            "customer_key": list(cols[2]),
            "txn_time": pa.array(cols[3], pa.timestamp("us", tz="UTC")),
            "amount": pa.array(cols[4], pa.float64()),
            "currency": ["CNY"] * len(rows),
            "direction": list(cols[5]),
            "channel": list(cols[6]),
            "merchant_category": list(cols[7]),
            "counterparty_type": list(cols[8]),
        }
    )


def digital_events() -> pa.Table:
    days = [AS_OF - timedelta(days=d) for d in (1, 5, 20, 40, 100)]
    return pa.table(
        {
            "event_id": [f"e{i}" for i in range(len(days))] + ["e_mat"],
            "customer_key": ["c_payroll"] * len(days) + ["c_mature"],
            "event_time": pa.array(
                [_ts(d) for d in days] + [_ts(date(2024, 6, 1))], pa.timestamp("us", tz="UTC")
            ),
            "event_type": ["login", "login", "page_view", "login", "login", "login"],
            "channel": ["app"] * (len(days) + 1),
        }
    )


def instalments() -> pa.Table:
    return pa.table(
        {
            "account_key": ["a_mat_ml", "a_mat_ml", "a_pay_cc"],
            "customer_key": ["c_mature", "c_mature", "c_payroll"],
            "due_date": [date(2024, 5, 1), date(2024, 6, 1), date(2024, 6, 15)],
            "amount_due": [6000.0, 6000.0, 400.0],
            "amount_paid": [6000.0, 6000.0, None],
            "paid_date": pa.array([date(2024, 5, 1), date(2024, 6, 1), None], pa.date32()),
        }
    )


def risk_assessments() -> pa.Table:
    return pa.table(
        {
            "customer_key": ["c_payroll", "c_payroll", "c_mature"],
            "risk_level": ["C2", "C3", "C4"],
            "assessed_on": [date(2021, 5, 1), date(2023, 5, 1), date(2022, 1, 1)],
            "expires_on": [date(2022, 5, 1), date(2024, 5, 1), date(2025, 1, 1)],
        }
    )


def load_bank(wh: Warehouse, *, loaded_at: datetime = T_LOAD, batch: str = "b1") -> None:
    """Write the whole bank as one batch."""
    with wh.batch(batch, loaded_at=loaded_at) as w:
        w.append("product", products())
        w.append("customer", customers())
        w.append("account", accounts())
        w.append("balance", balances())
        w.append("transaction", transactions())
        w.append("digital_event", digital_events())
        w.append("credit_instalment", instalments())
        w.append("risk_assessment", risk_assessments())


def open_bank(folder: Path) -> DuckDBWarehouse:
    wh = DuckDBWarehouse(folder / "wh.duckdb", "Asia/Shanghai")
    wh.create_schema()
    load_bank(wh)
    return wh
