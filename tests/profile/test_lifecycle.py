"""Lifecycle stages on the hand-built bank (one textbook customer per stage) and transitions."""

from __future__ import annotations

from nextbest.profile.features import SnapshotPoint, snapshot_features
from nextbest.profile.lifecycle import lifecycle_stages, transition_matrix
from nextbest.warehouse.duckdb import DuckDBWarehouse
from tests.profile.bank import AS_OF, T_LOAD


def test_each_customer_gets_its_stage(bank: DuckDBWarehouse) -> None:
    snap = snapshot_features(bank, SnapshotPoint(AS_OF, T_LOAD))
    stages = dict(
        (r["customer_key"], r["stage"]) for r in bank.to_arrow(lifecycle_stages(snap)).to_pylist()
    )
    assert stages == {
        "c_payroll": "active",
        "c_mature": "mature",
        "c_new": "new",
        "c_dormant": "dormant",
        "c_churned": "churned",
        "c_prospect": "prospect",
    }


def test_transition_matrix_counts_pairs() -> None:
    m = transition_matrix([None, "new", "new", "active"], ["new", "active", "new", "dormant"])
    i = {s: k for k, s in enumerate(m.stages)}
    assert m.counts[i["prospect"]][i["new"]] == 1
    assert m.counts[i["new"]][i["active"]] == 1 and m.counts[i["new"]][i["new"]] == 1
    assert m.counts[i["active"]][i["dormant"]] == 1
    assert sum(map(sum, m.counts)) == 4
    assert m.shares()[i["new"]][i["active"]] == 0.5
