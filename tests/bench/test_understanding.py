"""The understanding suite's baselines compute what the snapshot computes.

A small generated bank is ingested and then given corrected versions of some transactions
(so the version choice matters); the hand-written SQL, the pandas implementation and the
snapshot must agree on every transaction feature of every customer.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from bench.suites.understanding import AS_OF, run_pandas, run_snapshot, run_sql
from nextbest.config import Settings
from nextbest.demo.world import generate
from nextbest.services.ingestion import ingest
from nextbest.services.stores import init_installation
from nextbest.warehouse import open_warehouse, physical_table

CORRECTED = 40


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("understanding-bench")
    bank = generate(root / "bank", 150, 13, seed=5).out
    settings = Settings(home=root / "home")
    settings.home.mkdir()
    init_installation(settings)
    assert ingest(settings, bank / "export", bank / "mapping.yaml").status == "committed"
    with open_warehouse(settings) as wh:
        stored = wh.to_arrow(wh.current("transaction").order_by("txn_id"))
        business = [c.name for c in physical_table("transaction").business_columns]
        # Corrections of recent transactions: a new amount and, for some, a time after the
        # as-of date (the correction moves them out of the snapshot).
        recent = stored.filter(pc.greater(stored["txn_time"], pa.scalar(
            pd.Timestamp(AS_OF, tz="UTC") - timedelta(days=60)
        ))).slice(0, CORRECTED).select(business)  # fmt: skip
        amounts = [a * Decimal(3) for a in recent["amount"].to_pylist()]
        times = [
            t + timedelta(days=400) if i % 4 == 0 else t
            for i, t in enumerate(recent["txn_time"].to_pylist())
        ]
        fixed = recent.set_column(
            business.index("amount"), "amount", pa.array(amounts, recent["amount"].type)
        ).set_column(
            business.index("txn_time"), "txn_time", pa.array(times, recent["txn_time"].type)
        )
        with wh.batch("corrections") as writer:
            writer.append("transaction", fixed)
        versions = wh.to_arrow(wh.table("transaction").select("txn_id")).num_rows
        assert versions == stored.num_rows + CORRECTED
    return settings.home


def _features(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path).set_index("customer_key").sort_index()


def test_sql_pandas_and_snapshot_agree_on_transaction_features(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs = {name: tmp_path / f"{name}.parquet" for name in ("sql", "pandas", "snapshot")}
    run_sql(home, AS_OF, outputs["sql"])
    monkeypatch.setenv("NEXTBEST_BENCH_PANDAS_ROWS", "2000")  # pandas in customer partitions
    done = run_pandas(home, AS_OF, outputs["pandas"])
    assert "failed" not in done and int(done["parts"]) > 2  # type: ignore[call-overload]
    run_snapshot(home, AS_OF, outputs["snapshot"])
    sql, pandas_, snap = (_features(p) for p in outputs.values())
    assert len(sql) == len(snap) == len(pandas_) > 100
    assert (sql.index == snap.index).all() and (sql.index == pandas_.index).all()
    for column in sql.columns:
        _assert_same(pandas_[column], sql[column], column, missing=-1.0)
    common = [c for c in sql.columns if c in snap.columns]
    assert len(common) >= 11
    for column in common:
        # the snapshot reports 0 where a customer has no matching transaction
        _assert_same(snap[column], sql[column], column, missing=0.0)
    assert sql["txn_amount_90d"].sum() > 0


def _assert_same(found: pd.Series, expected: pd.Series, column: str, missing: float) -> None:
    if expected.dtype.kind in "fiu" or found.dtype.kind in "fiu":
        np.testing.assert_allclose(
            found.astype(float).fillna(missing), expected.astype(float).fillna(missing),
            rtol=1e-9, err_msg=column,
        )  # fmt: skip
    else:  # dates: pandas gives timestamps at midnight, the SQL dates
        found, expected = pd.to_datetime(found), pd.to_datetime(expected)
        assert found.isna().equals(expected.isna()), column
        assert (found.dropna() == expected.dropna()).all(), column
