"""DuckDB-specific behaviour beyond the backend contract."""

from __future__ import annotations

import pyarrow as pa

from nextbest.config import Settings
from nextbest.warehouse import open_warehouse
from nextbest.warehouse.duckdb import DuckDBWarehouse
from tests.warehouse.test_contract import customers


def _views(wh: DuckDBWarehouse) -> int:
    row = wh._con.execute("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchone()
    assert row is not None
    return int(row[0])


def test_bulk_probes_do_not_leave_registered_data_behind(settings: Settings) -> None:
    wh = open_warehouse(settings)
    assert isinstance(wh, DuckDBWarehouse)
    before = _views(wh)
    with wh.batch("b1") as writer:
        writer.append("customer", customers(["k1", "k2"]))
        for _ in range(5):
            writer.known_hashes("customer", writer.row_hashes("customer", customers(["k1"])))
            wh.keys_present("customer", "customer_key", pa.array(["k1", "x"]))
    assert _views(wh) == before
    wh.close()


def test_session_time_zone_is_the_banks(settings: Settings) -> None:
    wh = open_warehouse(settings.model_copy(update={"timezone": "Europe/Prague"}))
    assert isinstance(wh, DuckDBWarehouse)
    row = wh._con.execute("SELECT current_setting('TimeZone')").fetchone()
    assert row == ("Europe/Prague",)
    wh.close()


def test_a_batch_does_not_hold_the_arrow_data_it_was_given(settings: Settings) -> None:
    # Data registered as a view inside a transaction lives until the transaction ends, so
    # a large batch used to keep every chunk it appended (~300 bytes a row).
    wh = open_warehouse(settings)
    assert isinstance(wh, DuckDBWarehouse)
    with wh.batch("b1") as writer:
        writer.append("customer", customers(["k0"]))
        start = pa.total_allocated_bytes()
        for i in range(20):
            keys = [f"c{i}-{j}" for j in range(2_000)]
            writer.append("customer", customers(keys))
            writer.known_hashes("customer", writer.row_hashes("customer", customers(keys)))
            wh.keys_present("customer", "customer_key", pa.array(keys))
        held = pa.total_allocated_bytes() - start
    assert held < 1_000_000  # 40,000 rows appended and probed; about 12 MB when held
    wh.close()


def test_a_batch_runs_under_its_memory_limit_and_restores_the_previous(
    settings: Settings,
) -> None:
    wh = open_warehouse(settings)
    assert isinstance(wh, DuckDBWarehouse)

    def limit() -> str:
        row = wh._con.execute("SELECT current_setting('memory_limit')").fetchone()
        assert row is not None
        return str(row[0])

    wh._con.execute("SET memory_limit = '2GiB'")
    before = limit()
    with wh.batch("b1"):
        inside = limit()
    assert inside != before
    assert inside.startswith("953.6 MiB")  # the default batch limit, 1 GB
    assert limit() == before
    wh.close()


def test_a_warehouse_from_before_key_indexes_reads_correctly_and_is_indexed_on_open(
    settings: Settings,
) -> None:
    from datetime import UTC, datetime, timedelta

    from nextbest.warehouse.layout import KEY_INDEX_SUFFIX

    t0 = datetime(2024, 3, 1, tzinfo=UTC)
    wh = open_warehouse(settings)
    with wh.batch("b1", loaded_at=t0) as writer:
        writer.append("customer", customers(["k1", "k2"], city="上海"))
    with wh.batch("b2", loaded_at=t0 + timedelta(hours=1)) as writer:
        writer.append("customer", customers(["k1"], city="北京"))
    expected = wh.to_arrow(wh.current("customer").order_by("customer_key")).to_pylist()
    # as an earlier version of nextbest left it: no key index tables
    assert isinstance(wh, DuckDBWarehouse)
    for (name,) in wh._con.execute("SELECT table_name FROM duckdb_tables()").fetchall():
        if name.endswith(KEY_INDEX_SUFFIX):
            wh._con.execute(f'DROP TABLE "{name}"')
    wh.close()
    reader = open_warehouse(settings, read_only=True)
    assert not reader.keys_indexed and reader.key_index("customer") is None
    assert reader.to_arrow(reader.current("customer").order_by("customer_key")).to_pylist() == (
        expected
    )
    reader.close()
    wh = open_warehouse(settings)  # writable: the schema is completed, the index built
    index = wh.key_index("customer")
    assert wh.keys_indexed and index is not None
    built = sorted((r["customer_key"], r["_batch_id"]) for r in wh.to_arrow(index).to_pylist())
    assert built == [("k1", "b1"), ("k1", "b2")]
    assert wh.to_arrow(wh.current("customer").order_by("customer_key")).to_pylist() == expected
    wh.close()
