"""Customer-understanding transformations give identical results on every backend.

Each backend of the contract suite loads the hand-built bank and runs every warehouse
transformation of customer understanding (``UNDERSTANDING_TRANSFORMATIONS``); the result must
equal the same transformation on a reference DuckDB warehouse, row for row.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import ibis
import pyarrow as pa

from nextbest.profile.features import SnapshotPoint, snapshot_features
from nextbest.profile.lifecycle import lifecycle_stages
from nextbest.profile.tags import evaluate_tags, load_tags
from nextbest.segment.rules import FIVE_DIMENSIONS, assign_rule_segments
from nextbest.warehouse import Warehouse
from nextbest.warehouse.duckdb import DuckDBWarehouse
from tests.profile.bank import AS_OF, T_LOAD, load_bank

POINT = SnapshotPoint(AS_OF, T_LOAD)

#: Every transformation customer understanding runs in the warehouse, by name. The snapshot
#: reads the warehouse tables; the others read a snapshot (an in-memory copy of it here, so
#: the big snapshot query runs once per backend).
UNDERSTANDING_TRANSFORMATIONS: dict[str, Callable[[ibis.Table], ibis.Table]] = {
    "tags": lambda snap: evaluate_tags(snap, load_tags()),
    "lifecycle": lifecycle_stages,
    "rule_segments": lambda snap: assign_rule_segments(snap, FIVE_DIMENSIONS),
}


def _sorted(table: pa.Table) -> pa.Table:
    keys = [c for c in ("customer_key", "tag", "scheme") if c in table.column_names]
    return table.sort_by([(k, "ascending") for k in keys])


def test_transformations_agree_with_duckdb(wh: Warehouse, tmp_path: Path) -> None:
    load_bank(wh)
    reference = DuckDBWarehouse(tmp_path / "reference.duckdb", "Asia/Shanghai")
    reference.create_schema()
    load_bank(reference)
    try:
        snapshot = wh.to_arrow(snapshot_features(wh, POINT))
        _assert_same(
            "feature_snapshot", snapshot, reference.to_arrow(snapshot_features(reference, POINT))
        )
        # One in-memory table for every transformation: Spark registers it once.
        snap = ibis.memtable(snapshot)
        for name, build in UNDERSTANDING_TRANSFORMATIONS.items():
            got = wh.to_arrow(build(snap))
            want = reference.to_arrow(build(snap))
            _assert_same(name, got, want)
    finally:
        reference.close()


def _assert_same(name: str, got: pa.Table, want: pa.Table) -> None:
    got, want = _sorted(got), _sorted(want)
    assert got.num_rows == want.num_rows > 0, name
    for column in want.column_names:
        a = got.column(column).to_pylist()
        b = want.column(column).to_pylist()
        if pa.types.is_floating(want.schema.field(column).type):
            assert all(
                (x is None and y is None) or abs(x - y) <= 1e-9 * max(1, abs(y))
                for x, y in zip(a, b, strict=True)
            ), (name, column)
        else:
            assert a == b, (name, column)
