"""Contract every warehouse backend must meet (parametrised by the ``backend_settings`` fixture)."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
import pytest

from nextbest.config import Settings
from nextbest.errors import NextbestError
from nextbest.warehouse import (
    LAYOUT,
    BackendUnavailableError,
    VaultColumnError,
    Warehouse,
    WarehouseDataError,
    WarehouseLayoutError,
    open_warehouse,
    physical_table,
)
from nextbest.warehouse.base import newest_versions

SHANGHAI = timezone(timedelta(hours=8))
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def customers(keys: list[str], city: str = "上海") -> pa.Table:
    n = len(keys)
    return pa.table(
        {
            "customer_key": keys,
            "source_system": ["core"] * n,
            "name_masked": ["张*三"] * n,
            "city": [city] * n,
            "annual_income": pa.array([Decimal("120000.00")] * n, pa.decimal128(18, 2)),
            "onboarding_date": [date(2020, 5, 1)] * n,
        }
    )


def transactions(ids: list[str], when: datetime | None = None) -> pa.Table:
    n = len(ids)
    when = when or datetime(2024, 1, 1, 12, 0, tzinfo=SHANGHAI)
    return pa.table(
        {
            "txn_id": ids,
            "account_key": ["acct"] * n,
            "customer_key": ["cust"] * n,
            "txn_time": pa.array([when] * n, pa.timestamp("us", tz="Asia/Shanghai")),
            "amount": pa.array([Decimal("12.50")] * n, pa.decimal128(18, 2)),
            "currency": ["CNY"] * n,
            "direction": ["debit"] * n,
            "channel": ["mobile_app"] * n,
        }
    )


# --- schema ------------------------------------------------------------------------------


def test_schema_creation_is_idempotent(open_wh: Callable[..., Warehouse]) -> None:
    wh = open_wh()
    wh.create_schema()
    wh.create_schema()
    assert wh.row_counts() == {spec.name: 0 for spec in LAYOUT}
    with wh.batch("b1") as writer:
        writer.append("customer", customers(["k1"]))
    wh.close()
    again = open_wh()
    again.create_schema()
    assert again.row_counts()["customer"] == 1


def test_tables_have_the_layout_columns(wh: Warehouse) -> None:
    for spec in LAYOUT:
        assert list(wh.table(spec.name).columns) == [c.name for c in spec.columns]


# --- batches -----------------------------------------------------------------------------


def test_append_commits_at_exit_with_system_columns(wh: Warehouse) -> None:
    with wh.batch("b1", loaded_at=T0) as writer:
        assert writer.append("customer", customers(["k1", "k2"])) == 2
    assert wh.has_batch("b1")
    rows = wh.to_arrow(wh.table("customer").order_by("customer_key")).to_pylist()
    assert [r["customer_key"] for r in rows] == ["k1", "k2"]
    assert {r["_batch_id"] for r in rows} == {"b1"}
    assert {r["_loaded_at"] for r in rows} == {T0}
    assert all(re.fullmatch(r"[a-p]{32}", r["_row_hash"]) for r in rows)
    assert rows[0]["occupation"] is None  # omitted optional column


def test_exception_rolls_the_whole_batch_back(wh: Warehouse) -> None:
    with pytest.raises(RuntimeError, match="boom"), wh.batch("b1") as writer:
        writer.append("customer", customers(["k1"]))
        writer.append("transaction", transactions(["t1"]))
        raise RuntimeError("boom")
    assert not wh.has_batch("b1")
    assert wh.row_counts()["customer"] == 0
    assert wh.row_counts()["transaction"] == 0
    with wh.batch("b1") as writer:  # the id is free again
        writer.append("customer", customers(["k1"]))
    assert wh.row_counts()["customer"] == 1


def test_a_committed_batch_id_cannot_be_reused_and_batches_do_not_nest(wh: Warehouse) -> None:
    with wh.batch("b1") as writer:
        writer.append("customer", customers(["k1"]))
        with pytest.raises(NextbestError, match="while batch 'b1' is open"), wh.batch("b2"):
            pass
    with pytest.raises(NextbestError, match="already committed"), wh.batch("b1"):
        pass
    with pytest.raises(NextbestError, match="closed"):
        writer.append("customer", customers(["k9"]))


def test_discard_batch_removes_its_rows_everywhere(wh: Warehouse) -> None:
    with wh.batch("b1") as writer:
        writer.append("customer", customers(["k1"]))
    with wh.batch("b2") as writer:
        writer.append("customer", customers(["k2"]))
        writer.append("transaction", transactions(["t1", "t2"]))
    assert wh.discard_batch("b2") == 3
    assert not wh.has_batch("b2")
    assert wh.row_counts()["customer"] == 1
    assert wh.discard_batch("b2") == 0


# --- hashes ------------------------------------------------------------------------------


def test_row_hash_is_stable_and_covers_business_columns_only(wh: Warehouse) -> None:
    with wh.batch("b1", loaded_at=T0) as writer:
        writer.append("customer", customers(["k1", "k2"]))
        expected = writer.row_hashes("customer", customers(["k1", "k2"]))
    stored = wh.to_arrow(wh.table("customer").order_by("customer_key"))["_row_hash"]
    assert stored.to_pylist() == expected.to_pylist()
    with wh.batch("b2", loaded_at=T0 + timedelta(days=1)) as writer:
        again = writer.row_hashes("customer", customers(["k1", "k2"]))
        other_city = writer.row_hashes("customer", customers(["k1"], city="北京"))
        null_city = writer.row_hashes("customer", customers(["k1"]).drop_columns(["city"]))
        empty_city = writer.row_hashes("customer", customers(["k1"], city=""))
    assert again.to_pylist() == expected.to_pylist()
    assert len({expected[0].as_py(), other_city[0].as_py(), null_city[0].as_py()}) == 3
    assert null_city[0].as_py() != empty_city[0].as_py()
    assert all(not re.search(r"\d", h) for h in expected.to_pylist())


def test_known_hashes_sees_stored_and_staged_rows(wh: Warehouse) -> None:
    with wh.batch("b1") as writer:
        writer.append("customer", customers(["k1"]))
    with wh.batch("b2") as writer:
        h_stored = writer.row_hashes("customer", customers(["k1"]))[0].as_py()
        h_staged = writer.row_hashes("customer", customers(["k2"]))[0].as_py()
        h_new = writer.row_hashes("customer", customers(["k3"]))[0].as_py()
        probe = pa.array([h_new, h_stored, h_staged, h_stored])
        assert writer.known_hashes("customer", probe).to_pylist() == [False, True, False, True]
        writer.append("customer", customers(["k2"]))
        assert writer.known_hashes("customer", probe).to_pylist() == [False, True, True, True]
        assert writer.known_hashes("customer", pa.array([], pa.string())).to_pylist() == []


# --- versions ----------------------------------------------------------------------------


def test_current_keeps_the_newest_version_per_key(wh: Warehouse) -> None:
    with wh.batch("b1", loaded_at=T0) as writer:
        writer.append("customer", customers(["k1", "k2"], city="上海"))
    with wh.batch("b2", loaded_at=T0 + timedelta(hours=1)) as writer:
        writer.append("customer", customers(["k1"], city="北京"))
    current = wh.to_arrow(wh.current("customer").order_by("customer_key")).to_pylist()
    assert [(r["customer_key"], r["city"], r["_batch_id"]) for r in current] == [
        ("k1", "北京", "b2"),
        ("k2", "上海", "b1"),
    ]
    assert wh.row_counts()["customer"] == 3


def test_current_breaks_load_time_ties_by_batch_id(wh: Warehouse) -> None:
    # Loaded in the "wrong" order at the same instant: the greater batch id still wins.
    with wh.batch("20240102-a", loaded_at=T0) as writer:
        writer.append("customer", customers(["k1"], city="新"))
    with wh.batch("20240101-z", loaded_at=T0) as writer:
        writer.append("customer", customers(["k1"], city="旧"))
    current = wh.to_arrow(wh.current("customer")).to_pylist()
    assert [(r["city"], r["_batch_id"]) for r in current] == [("新", "20240102-a")]


def test_newest_versions_among_several_appended_out_of_order(wh: Warehouse) -> None:
    # k1 has three versions appended newest first; k2 one; the cut-off sees only two of k1's.
    for batch, hours, city in (("b3", 2, "三"), ("b1", 0, "一"), ("b2", 1, "二")):
        with wh.batch(batch, loaded_at=T0 + timedelta(hours=hours)) as writer:
            writer.append("customer", customers(["k1"] if batch != "b1" else ["k1", "k2"], city))
    current = wh.to_arrow(wh.current("customer").order_by("customer_key")).to_pylist()
    assert [(r["customer_key"], r["city"]) for r in current] == [("k1", "三"), ("k2", "一")]
    cutoff = T0 + timedelta(minutes=90)
    # with the key index and by counting every key: the same versions
    for index in (wh.key_index("customer"), None):
        known = newest_versions(
            wh.table("customer"), physical_table("customer"), lambda t: t._loaded_at <= cutoff,
            index,
        )  # fmt: skip
        rows = wh.to_arrow(known.order_by("customer_key")).to_pylist()
        assert [(r["customer_key"], r["city"], r["_batch_id"]) for r in rows] == [
            ("k1", "二", "b2"),
            ("k2", "一", "b1"),
        ]


def _index_rows(wh: Warehouse, table: str) -> list[tuple[str, str]]:
    index = wh.key_index(table)
    assert index is not None and wh.keys_indexed
    rows = wh.to_arrow(index).to_pylist()
    return sorted((r["txn_id"], r["_batch_id"]) for r in rows)


def test_key_index_records_keys_stored_again(wh: Warehouse) -> None:
    with wh.batch("b1", loaded_at=T0) as writer:
        writer.append("transaction", transactions(["t1", "t2"]))
    assert _index_rows(wh, "transaction") == []
    later = datetime(2024, 1, 2, 12, 0, tzinfo=SHANGHAI)
    with wh.batch("b2", loaded_at=T0 + timedelta(hours=1)) as writer:
        writer.append("transaction", transactions(["t1"], when=later))  # a correction
        writer.append("transaction", transactions(["t3", "t3"]))  # twice in one batch
        writer.append("transaction", transactions(["t4"]))
    with wh.batch("b3", loaded_at=T0 + timedelta(hours=2)) as writer:
        writer.append("transaction", transactions(["t5"]))
    assert _index_rows(wh, "transaction") == [("t1", "b2"), ("t3", "b2")]
    current = wh.to_arrow(wh.current("transaction").order_by("txn_id")).to_pylist()
    assert [(r["txn_id"], r["_batch_id"]) for r in current][:2] == [("t1", "b2"), ("t2", "b1")]
    assert current[0]["txn_time"] == later
    # discarding the batch removes its index rows with its data
    wh.discard_batch("b2")
    assert _index_rows(wh, "transaction") == []
    current = wh.to_arrow(wh.current("transaction").order_by("txn_id")).to_pylist()
    assert [(r["txn_id"], r["_batch_id"]) for r in current] == [
        ("t1", "b1"),
        ("t2", "b1"),
        ("t5", "b3"),
    ]


def test_current_of_a_keyless_table_is_refused(wh: Warehouse) -> None:
    with pytest.raises(WarehouseLayoutError, match="has no key"):
        wh.current("quarantine")


def test_keys_present_is_a_bulk_membership_test(wh: Warehouse) -> None:
    with wh.batch("b1") as writer:
        writer.append("customer", customers(["k1", "k2"]))
        staged = writer
        writer.append("transaction", transactions(["t1"]))
        # Rows staged in the open batch count as present.
        assert wh.keys_present("transaction", "txn_id", pa.array(["t1"])).to_pylist() == [True]
    del staged
    got = wh.keys_present("customer", "customer_key", pa.array(["k2", "zz", None, "k1"]))
    assert got.to_pylist() == [True, False, False, True]
    assert wh.keys_present("customer", "customer_key", pa.array([], pa.string())).to_pylist() == []


def test_row_counts_cover_every_table(wh: Warehouse) -> None:
    with wh.batch("b1") as writer:
        writer.append("customer", customers(["k1", "k2"]))
        writer.append(
            "quarantine",
            pa.table(
                {
                    "source_file": ["customers.csv"],
                    "row_number": [7],
                    "target_table": ["customer"],
                    "field": ["mobile"],
                    "rule": ["mobile_format"],
                    "outcome": ["reject"],
                    "value_masked": ["138****1234"],
                    "message": ["not a mainland mobile number"],
                }
            ),
        )
    counts = wh.row_counts()
    assert set(counts) == {spec.name for spec in LAYOUT}
    assert counts["customer"] == 2
    assert counts["quarantine"] == 1
    assert counts["dq_flag"] == 0
    row = wh.to_arrow(wh.table("quarantine")).to_pylist()[0]
    assert row["batch_id"] == "b1" and row["loaded_at"] is not None


# --- time zone ---------------------------------------------------------------------------


def test_day_boundaries_are_the_banks(wh: Warehouse) -> None:
    late = datetime(2024, 1, 1, 23, 30, tzinfo=SHANGHAI)  # 15:30 UTC, still Jan 1 in Shanghai
    naive = pa.table(
        {
            **{n: transactions(["t2"]).column(n) for n in transactions(["t2"]).column_names},
            "txn_time": pa.array([datetime(2024, 1, 1, 23, 30)], pa.timestamp("us")),
        }
    )
    with wh.batch("b1") as writer:
        writer.append("transaction", transactions(["t1"], when=late))
        writer.append("transaction", naive)  # naive times are read in the bank's zone
    t = wh.table("transaction")
    rows = wh.to_arrow(t.select("txn_id", "txn_time", day=t.txn_time.date()).order_by("txn_id"))
    assert rows["day"].to_pylist() == [date(2024, 1, 1), date(2024, 1, 1)]
    assert {v.astimezone(UTC) for v in rows["txn_time"].to_pylist()} == {
        datetime(2024, 1, 1, 15, 30, tzinfo=UTC)
    }


# --- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["mobile", "id_number", "name", "email"])
def test_direct_identifiers_are_refused(wh: Warehouse, field: str) -> None:
    data = customers(["k1"]).append_column(field, pa.array(["13812341234"]))
    with wh.batch("b1") as writer:
        with pytest.raises(VaultColumnError, match=rf"'{field}'.*stored_in='vault'"):
            writer.append("customer", data)
        with pytest.raises(VaultColumnError, match="never stores"):
            writer.append("transaction", transactions(["t1"]).append_column(field, data[field]))
    assert wh.row_counts()["customer"] == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.append_column("colour", pa.array(["red"])), "unknown column"),
        (lambda t: t.append_column("_batch_id", pa.array(["x"])), "system column"),
        (lambda t: t.drop_columns(["onboarding_date"]), "required column 'onboarding_date'"),
        (
            lambda t: t.set_column(0, "customer_key", pa.array([None], pa.string())),
            r"row 0, field 'customer_key'",
        ),
        (
            lambda t: t.set_column(4, "annual_income", pa.array([1.234])),
            "field 'annual_income': cannot store double",
        ),
    ],
)
def test_rows_that_do_not_fit_are_refused_with_the_field_named(
    wh: Warehouse, change: Callable[[pa.Table], pa.Table], message: str
) -> None:
    with wh.batch("b1") as writer, pytest.raises(WarehouseDataError, match=message):
        writer.append("customer", change(customers(["k1"])))


def test_unknown_table_is_refused(wh: Warehouse) -> None:
    with wh.batch("b1") as writer, pytest.raises(WarehouseLayoutError, match="no table"):
        writer.append("customers", customers(["k1"]))


def test_read_only_handle_refuses_writes(open_wh: Callable[..., Warehouse]) -> None:
    open_wh().close()
    ro = open_wh(read_only=True)
    assert ro.capabilities.read_only
    assert ro.row_counts()["customer"] == 0
    with pytest.raises(NextbestError, match="read-only"), ro.batch("b1"):
        pass


def test_unavailable_backend_is_a_clear_error(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    spark = settings.model_copy(update={"warehouse_backend": "spark"})
    monkeypatch.setitem(sys.modules, "pyspark", None)  # as if the spark extra were missing
    with pytest.raises(BackendUnavailableError, match="is not installed"):
        open_warehouse(spark)
