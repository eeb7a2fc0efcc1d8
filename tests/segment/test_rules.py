"""Rule-based five-dimension segments on the hand-built bank."""

from __future__ import annotations

from nextbest.expr import evaluate
from nextbest.profile.features import SnapshotPoint, snapshot_features
from nextbest.segment.rules import FIVE_DIMENSIONS, assign_rule_segments
from tests.profile.bank import AS_OF, T_LOAD, open_bank


def test_five_dimensions_first_match_wins(tmp_path) -> None:
    wh = open_bank(tmp_path)
    snap = snapshot_features(wh, SnapshotPoint(AS_OF, T_LOAD))
    got = {
        (r["customer_key"], r["scheme"]): r["segment"]
        for r in wh.to_arrow(assign_rule_segments(snap, FIVE_DIMENSIONS)).to_pylist()
    }
    assert {s.name for s in FIVE_DIMENSIONS} == {
        "customer_type", "asset_size", "risk_preference", "behaviour", "value_contribution"
    }  # fmt: skip
    assert len(got) == 6 * 5
    assert got["c_mature", "customer_type"] == "business_owner"
    assert got["c_mature", "asset_size"] == "emerging"
    assert got["c_mature", "risk_preference"] == "aggressive"
    assert got["c_mature", "behaviour"] == "digital"
    assert got["c_mature", "value_contribution"] == "high"
    assert got["c_dormant", "customer_type"] == "senior"
    assert got["c_dormant", "behaviour"] == "inactive"
    assert got["c_prospect", "value_contribution"] == "none"
    # the same answer record by record with the per-record evaluator
    for record in wh.to_arrow(snap).to_pylist():
        for scheme in FIVE_DIMENSIONS:
            expected = next(
                r.code for r in scheme.rules if r.expr is None or evaluate(r.expr, record) is True
            )
            assert got[record["customer_key"], scheme.name] == expected
    wh.close()
