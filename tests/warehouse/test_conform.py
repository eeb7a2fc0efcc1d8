"""Pure Arrow helpers of the warehouse: conforming rows and letters-only digests."""

from __future__ import annotations

import hashlib
from datetime import datetime

import pyarrow as pa
import pytest

from nextbest.warehouse.conform import WarehouseDataError, conform, hex_to_letters
from nextbest.warehouse.layout import physical_table


def test_hex_to_letters_is_a_bulk_digit_free_bijection() -> None:
    digests = [hashlib.md5(str(i).encode()).hexdigest() for i in range(50)]
    chunked = pa.chunked_array([digests[:20], digests[20:]])
    mapped = hex_to_letters(chunked.slice(5, 40)).to_pylist()
    table = str.maketrans("0123456789", "ghijklmnop")
    assert mapped == [d.translate(table) for d in digests[5:45]]
    assert len(set(mapped)) == 40
    assert hex_to_letters(pa.array([], pa.string())).to_pylist() == []
    with pytest.raises(WarehouseDataError, match="null"):
        hex_to_letters(pa.array(["ab", None]))


def test_conform_orders_casts_and_fills_columns() -> None:
    spec = physical_table("digital_event")
    data = pa.table(
        {
            "event_type": ["login"],
            "customer_key": ["c1"],
            "event_id": ["e1"],
            "event_time": pa.array([datetime(2024, 1, 1, 23, 30)], pa.timestamp("s")),
            "channel": ["app"],
        }
    )
    out = conform(spec, data, "Asia/Shanghai")
    assert out.column_names == list(spec.business_names)
    assert out["target"].null_count == 1
    assert out.schema.field("event_time").type == pa.timestamp("us", tz="UTC")
    assert out["event_time"][0].as_py().hour == 15  # 23:30 in Shanghai is 15:30 UTC
