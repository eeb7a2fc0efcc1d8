"""Bulk compilation to Ibis on DuckDB: the pinned cases agree with per-record evaluation."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import ibis
import pyarrow as pa
import pytest

from nextbest.expr import ExpressionError, parse, to_ibis
from tests.expr.test_evaluate import PINNED, ROW

ARROW_TYPES = {
    "i": pa.int64(), "j": pa.int64(), "z": pa.int64(), "n": pa.int64(), "ns": pa.string(),
    "f": pa.float64(), "g": pa.float64(), "s": pa.string(), "e": pa.string(), "ws": pa.string(),
    "d": pa.date32(),
    "d2": pa.date32(), "t": pa.timestamp("us"), "m": pa.decimal128(18, 2), "yes": pa.bool_(),
    "no": pa.bool_(), "cn": pa.string(),
}  # fmt: skip


@pytest.fixture(scope="module")
def duck() -> Any:
    con = ibis.duckdb.connect()
    yield con
    con.disconnect()


@pytest.fixture(scope="module")
def table() -> ibis.Table:
    schema = pa.schema([(name, ARROW_TYPES[name]) for name in ROW])
    return ibis.memtable(pa.Table.from_pylist([ROW], schema=schema))


def test_pinned_semantics_in_bulk(duck: Any, table: ibis.Table) -> None:
    # One query for all pinned cases keeps this fast.
    columns = {f"c{k}": to_ibis(parse(text), table) for k, (text, _) in enumerate(PINNED)}
    row = duck.to_pyarrow(table.select(**columns)).to_pylist()[0]
    for k, (text, expected) in enumerate(PINNED):
        got = row[f"c{k}"]
        if isinstance(expected, float):
            assert math.isclose(float(got), expected, rel_tol=1e-12), text
        else:
            assert got == expected, text


def test_filter_and_mutate_on_a_table(duck: Any) -> None:
    t = ibis.memtable(
        pa.table({"age": pa.array([17, 30, None], pa.int64()), "seg": ["mass", "vip", "mass"]})
    )
    rule = parse("age >= 18 or seg == 'vip'")
    kept = duck.to_pyarrow(t.filter(to_ibis(rule, t))).to_pylist()
    assert kept == [{"age": 30, "seg": "vip"}]
    derived = duck.to_pyarrow(t.mutate(band=to_ibis(parse("if(age < 18, 'minor', 'adult')"), t)))
    assert derived.column("band").to_pylist() == ["minor", "adult", "adult"]


def test_scalar_expression_broadcasts(duck: Any, table: ibis.Table) -> None:
    value = to_ibis(parse("add_days(date('2024-02-28'), 1)"), table)
    assert duck.to_pyarrow(table.select(v=value)).column("v").to_pylist() == [dt.date(2024, 2, 29)]


def test_unknown_column_lists_available(table: ibis.Table) -> None:
    with pytest.raises(ExpressionError) as info:
        to_ibis(parse("i + nope"), table)
    assert "unknown column 'nope'" in info.value.reason
    assert "available columns: cn, d, d2" in info.value.reason
    assert info.value.position == 4


def test_type_errors_are_refused_before_running(table: ibis.Table) -> None:
    with pytest.raises(ExpressionError, match="cannot compare string with int"):
        to_ibis(parse("s == 1"), table)
    with pytest.raises(ExpressionError, match="needs numbers"):
        to_ibis(parse("d + 1"), table)


def test_decimal_arithmetic_keeps_exact_values(duck: Any) -> None:
    t = ibis.memtable(pa.table({"m": pa.array([Decimal("99999999.99")], pa.decimal128(10, 2))}))
    got = duck.to_pyarrow(t.select(v=to_ibis(parse("m * m + decimal('0.0001')"), t)))
    assert got.column("v").to_pylist() == [Decimal("9999999998000000.0002")]
