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
