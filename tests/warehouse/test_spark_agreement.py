"""The same Ibis transformations give the same results on DuckDB and on Spark.

Stated equality (:func:`assert_same_rows`): both results are sorted by their key columns
(which must identify a row, so ties cannot reorder anything); keys, strings, integers,
dates, booleans and decimals must be exactly equal; timestamps must be the same instant;
floats agree to a relative tolerance of 1e-9 (engines sum in different orders). Both
sessions run in the bank's zone (Asia/Shanghai), so day boundaries agree. Rankings and
quantiles order by value and then by key, so ties are broken the same way.

Later transformations join this suite: write them once as a function of a warehouse,
add it to ``TRANSFORMATIONS``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pytest

from nextbest.config import Settings
from nextbest.expr import parse, to_ibis
from nextbest.warehouse import Warehouse, open_warehouse
from tests.expr.test_evaluate import PINNED, ROW
from tests.expr.test_to_ibis import ARROW_TYPES

SEED = 20241123
FLOAT_REL = 1e-9
T0 = datetime(2024, 3, 1, tzinfo=UTC)
CHANNELS = ["counter", "atm", "mobile_app", "online_banking", "pos"]
CITIES = ["上海", "北京", "深圳", "成都", None]


def _customers(rng: np.random.Generator, keys: list[str]) -> pa.Table:
    n = len(keys)
    cents = rng.integers(0, 50_000_000, n)
    return pa.table(
        {
            "customer_key": keys,
            "source_system": ["core"] * n,
            "city": [CITIES[i] for i in rng.integers(0, len(CITIES), n)],
            "city_tier": pa.array(rng.integers(1, 5, n), pa.int64()),
            "annual_income": pa.array(
                [Decimal(int(c)).scaleb(-2) for c in cents], pa.decimal128(18, 2)
            ),
            "birth_date": [date(1960, 1, 1) + timedelta(days=int(d))
                           for d in rng.integers(0, 15000, n)],
            "onboarding_date": [date(2015, 1, 1) + timedelta(days=int(d))
                                for d in rng.integers(0, 3000, n)],
        }
    )  # fmt: skip


def _transactions(rng: np.random.Generator, customers: list[str], n: int) -> pa.Table:
    # Many times fall within an hour of midnight in Shanghai (16:00 UTC): a session in the
    # wrong zone would put them on the wrong day.
    base = datetime(2024, 1, 1, 16, 0, tzinfo=UTC)
    offsets = rng.integers(0, 90, n) * 86_400 + rng.integers(-3_600, 3_600, n)
    cents = rng.integers(-20_000, 2_000_000, n)
    cents[:10] = 12_345  # exact ties in amount, broken by key in rankings
    return pa.table(
        {
            "txn_id": [f"t{i:06d}" for i in range(n)],
            "account_key": [f"a{i % 97}" for i in range(n)],
            "customer_key": [customers[i] for i in rng.integers(0, len(customers), n)],
            "txn_time": pa.array(
                [base + timedelta(seconds=int(s)) for s in offsets], pa.timestamp("us", tz="UTC")
            ),
            "amount": pa.array([Decimal(int(c)).scaleb(-2) for c in cents], pa.decimal128(18, 2)),
            "currency": ["CNY"] * n,
            "direction": [("debit", "credit")[i] for i in rng.integers(0, 2, n)],
            "channel": [CHANNELS[i] for i in rng.integers(0, len(CHANNELS), n)],
        }
    )


def _load(wh: Warehouse) -> None:
    rng = np.random.default_rng(SEED)
    keys = [f"c{i:04d}" for i in range(80)]
    with wh.batch("20240301-a", loaded_at=T0) as writer:
        writer.append("customer", _customers(rng, keys))
        writer.append("transaction", _transactions(rng, keys, 2_000))
    with wh.batch("20240302-a", loaded_at=T0 + timedelta(days=1)) as writer:
        writer.append("customer", _customers(rng, keys[::7]))  # corrections


@pytest.fixture(scope="module")
def both(
    tmp_path_factory: pytest.TempPathFactory, spark_session: object
) -> Iterator[dict[str, Warehouse]]:
    """The same data loaded into a DuckDB and a Spark warehouse."""
    opened = {}
    for backend in ("duckdb", "spark"):
        home = tmp_path_factory.mktemp(f"agree-{backend}")
        wh = open_warehouse(Settings(home=home, warehouse_backend=backend))
        _load(wh)
        opened[backend] = wh
    yield opened
    for wh in opened.values():
        wh.close()


# --- the stated equality -----------------------------------------------------------------


def _same_value(left: Any, right: Any) -> bool:
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, float) or isinstance(right, float):
        if math.isnan(left) or math.isnan(right):
            return math.isnan(left) and math.isnan(right)
        return math.isclose(left, right, rel_tol=FLOAT_REL, abs_tol=1e-12)
    if isinstance(left, datetime) and isinstance(right, datetime):
        # Instants compare as instants; a wall-clock time must stay a wall-clock time.
        return (left.tzinfo is None) == (right.tzinfo is None) and left == right
    return type(left) is type(right) and left == right


def assert_same_rows(left: pa.Table, right: pa.Table, key: list[str]) -> None:
    """Assert two results are equal under the suite's stated equality (see module doc)."""
    assert left.schema.names == right.schema.names
    assert left.num_rows == right.num_rows
    order = [(k, "ascending") for k in key]
    lrows, rrows = left.sort_by(order).to_pylist(), right.sort_by(order).to_pylist()
    assert len({tuple(r[k] for k in key) for r in lrows}) == len(lrows), "key is not unique"
    for lrow, rrow in zip(lrows, rrows, strict=True):
        for name in left.schema.names:
            assert _same_value(lrow[name], rrow[name]), (name, lrow, rrow)


# --- transformations, written once -------------------------------------------------------


def per_customer(wh: Warehouse) -> ibis.Table:
    t = wh.current("transaction")
    day = t.txn_time.date()
    return t.group_by("customer_key").aggregate(
        n=t.count(),
        total=t.amount.sum(),
        mean=t.amount.cast("float64").mean(),
        last_time=t.txn_time.max(),
        debits=(t.direction == "debit").sum(),
        channels=t.channel.nunique(),
        first_day=day.min(),
        active_days=day.nunique(),
    )


def daily(wh: Warehouse) -> ibis.Table:
    t = wh.table("transaction")
    return t.group_by(day=t.txn_time.date()).aggregate(n=t.count(), total=t.amount.sum())


def monthly_by_channel(wh: Warehouse) -> ibis.Table:
    t = wh.table("transaction")
    month = t.txn_time.truncate("M").date()
    return t.group_by(month=month, channel=t.channel).aggregate(
        n=t.count(), spend=t.amount.cast("float64").sum()
    )


def ranking(wh: Warehouse) -> ibis.Table:
    agg = per_customer(wh)
    by_value = [agg.total.desc(), agg.customer_key.asc()]  # ties broken by key
    return agg.select(
        "customer_key",
        rank=ibis.row_number().over(order_by=by_value),
        quartile=ibis.ntile(4).over(order_by=by_value),
        pct=ibis.percent_rank().over(order_by=by_value),
    )


def quantiles(wh: Warehouse) -> ibis.Table:
    agg = per_customer(wh)
    value = agg.total.cast("float64")
    return agg.aggregate(
        q = ibis.literal("all"),
        median=value.quantile(0.5),
        p90=value.quantile(0.9),
        low=value.min(),
    ).select("q", "median", "p90", "low")  # fmt: skip


def customer_profile(wh: Warehouse) -> ibis.Table:
    c = wh.current("customer")
    agg = per_customer(wh)
    joined = c.left_join(agg, c.customer_key == agg.customer_key)
    return joined.select(
        c.customer_key,
        c.city,
        c.annual_income,
        c._batch_id,
        c._loaded_at,
        age_2024=2024 - c.birth_date.year(),
        tenure_days=(ibis.date(2024, 3, 1) - c.onboarding_date).cast("int64"),
        n=agg.n.fill_null(0),
        income_per_txn=c.annual_income.cast("float64") / agg.n.fill_null(0),
    )


def day_windows(wh: Warehouse) -> ibis.Table:
    t = wh.table("transaction")
    # From 1 February in the bank's zone (31 January, 16:00 UTC).
    recent = t.filter(t.txn_time >= ibis.literal(datetime(2024, 1, 31, 16, 0, tzinfo=UTC)))
    return recent.group_by("customer_key").aggregate(n_feb_on=recent.count())


TRANSFORMATIONS: dict[str, tuple[Callable[[Warehouse], ibis.Table], list[str]]] = {
    "per_customer": (per_customer, ["customer_key"]),
    "daily": (daily, ["day"]),
    "monthly_by_channel": (monthly_by_channel, ["month", "channel"]),
    "ranking": (ranking, ["customer_key"]),
    "quantiles": (quantiles, ["q"]),
    "customer_profile": (customer_profile, ["customer_key"]),
    "day_windows": (day_windows, ["customer_key"]),
}


@pytest.mark.parametrize("name", sorted(TRANSFORMATIONS))
def test_transformation_agrees_on_both_backends(both: dict[str, Warehouse], name: str) -> None:
    build, key = TRANSFORMATIONS[name]
    duck = both["duckdb"].to_arrow(build(both["duckdb"]))
    spark = both["spark"].to_arrow(build(both["spark"]))
    assert duck.num_rows > 0
    assert_same_rows(duck, spark, key)


def test_day_boundaries_follow_the_banks_zone(both: dict[str, Warehouse]) -> None:
    # 2024-01-01 16:30 UTC is 00:30 on 2 January in Shanghai.
    for wh in both.values():
        t = wh.table("transaction")
        late = t.filter(t.txn_time == ibis.literal(datetime(2024, 1, 1, 16, 30, tzinfo=UTC)))
        probe = late.select(day=late.txn_time.date()).limit(1)
        rows = wh.to_arrow(probe).to_pylist()
        if rows:
            assert rows[0]["day"] == date(2024, 1, 2)
    daily_rows = both["spark"].to_arrow(daily(both["spark"])).to_pylist()
    assert min(r["day"] for r in daily_rows) == date(2024, 1, 1)


def test_current_and_row_hashes_agree(both: dict[str, Warehouse]) -> None:
    cols = ["customer_key", "city", "annual_income", "_batch_id", "_loaded_at", "_row_hash"]
    duck = both["duckdb"].to_arrow(both["duckdb"].current("customer").select(*cols))
    spark = both["spark"].to_arrow(both["spark"].current("customer").select(*cols))
    assert_same_rows(duck, spark, ["customer_key"])
    assert set(spark.column("_batch_id").to_pylist()) == {"20240301-a", "20240302-a"}
    stored = {
        backend: wh.to_arrow(wh.table("transaction").select("txn_id", "_row_hash"))
        for backend, wh in both.items()
    }
    assert_same_rows(stored["duckdb"], stored["spark"], ["txn_id"])


KNOWN_EXPRESSION_GAPS = {"round(0.285, 2)"}


def test_expression_language_agrees_on_both_backends(both: dict[str, Warehouse]) -> None:
    schema = pa.schema([(name, ARROW_TYPES[name]) for name in ROW])
    row = ibis.memtable(pa.Table.from_pylist([ROW], schema=schema))
    columns = {f"c{k}": to_ibis(parse(text), row) for k, (text, _) in enumerate(PINNED)}
    expr = row.select(**columns)
    duck = both["duckdb"].to_arrow(expr).to_pylist()[0]
    spark = both["spark"].to_arrow(expr).to_pylist()[0]
    differ = {
        text: (duck[f"c{k}"], spark[f"c{k}"])
        for k, (text, _) in enumerate(PINNED)
        if not _same_value(duck[f"c{k}"], spark[f"c{k}"])
    }
    # Known gap, reported to the expression language's owner: Spark's ROUND on a double
    # rounds its decimal text (0.285 -> 0.29), DuckDB the binary value (0.28499... -> 0.28).
    # When the compiler fixes it this assertion fails: then empty the expected set.
    assert set(differ) == KNOWN_EXPRESSION_GAPS, differ


def test_the_equality_is_strict_enough_to_fail() -> None:
    left = pa.table({"k": ["x", "y"], "d": pa.array([Decimal("1.00"), Decimal("2.00")])})
    off_by_a_cent = pa.table({"k": ["x", "y"], "d": pa.array([Decimal("1.00"), Decimal("2.01")])})
    with pytest.raises(AssertionError):
        assert_same_rows(left, off_by_a_cent, ["k"])
    floats = pa.table({"k": ["x"], "f": [1.0]})
    assert_same_rows(floats, pa.table({"k": ["x"], "f": [1.0 + 1e-12]}), ["k"])
    with pytest.raises(AssertionError):
        assert_same_rows(floats, pa.table({"k": ["x"], "f": [1.0 + 1e-6]}), ["k"])
    with pytest.raises(AssertionError, match="key is not unique"):
        assert_same_rows(pa.table({"k": ["x", "x"]}), pa.table({"k": ["x", "x"]}), ["k"])
