"""Association rules on a holdings matrix: support, confidence, lift and the rule score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nextbest.models.association import AssociationError, AssociationRules, holdings_matrix

FAMILIES = ("a", "b", "c")
# 10 customers: a is held by 6, b by 5 (4 of them with a), c by 2 (both with a and b)
H = np.array(
    [[1, 1, 1], [1, 1, 1], [1, 1, 0], [1, 1, 0], [1, 0, 0], [1, 0, 0],
     [0, 1, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]],
    dtype=bool,
)  # fmt: skip


def test_support_confidence_and_lift_by_hand() -> None:
    rules = AssociationRules(min_support=0.0).fit(H, FAMILIES)
    r = rules.rules_.set_index(["antecedent", "consequent"])
    assert r.loc[("a", "b"), "support"] == pytest.approx(0.4)
    assert r.loc[("a", "b"), "confidence"] == pytest.approx(4 / 6)
    assert r.loc[("a", "b"), "lift"] == pytest.approx((4 / 6) / 0.5)
    assert r.loc[("b", "a"), "confidence"] == pytest.approx(4 / 5)
    assert r.loc[("a + b", "c"), "confidence"] == pytest.approx(0.5)
    assert r.loc[("a + b", "c"), "lift"] == pytest.approx(0.5 / 0.2)
    assert int(r.loc[("a + b", "c"), "count"]) == 2
    # no rule has its consequent inside its antecedent, and lift is sorted
    assert not any(c in a.split(" + ") for a, c in r.index)
    assert rules.rules_["lift"].is_monotonic_decreasing
    assert rules.top_rules("c", n=1)["antecedent"].iat[0] in ("a + b", "b + a")


def test_min_support_drops_rare_rules_and_score_uses_best_held_rule() -> None:
    kept = AssociationRules(min_support=0.25).fit(H, FAMILIES)
    assert (kept.rules_["support"] >= 0.25).all() and len(kept.rules_) == 2  # a -> b, b -> a
    assert kept.score(H[:1])[0, 2] == pytest.approx(0.2)  # no rule for c: its support
    rules = AssociationRules(min_support=0.15).fit(H, FAMILIES)
    s = rules.score(np.array([[1, 1, 0], [0, 0, 0], [1, 0, 0]], dtype=bool))
    assert s[0, 2] == pytest.approx(0.5)  # a + b -> c
    assert s[1, 2] == pytest.approx(0.2)  # nothing held: the support of c
    assert s[2, 1] == pytest.approx(4 / 6)  # a -> b
    assert s[2, 2] == pytest.approx(2 / 6)  # a -> c


def test_holdings_matrix_and_errors() -> None:
    frame = pd.DataFrame({"holds_a": [True, None], "holds_b": [False, True]})
    assert holdings_matrix(frame, ["a", "b"]).tolist() == [[True, False], [False, True]]
    with pytest.raises(AssociationError, match="holds_ column"):
        holdings_matrix(frame, ["z"])
    with pytest.raises(AssociationError, match="not fitted"):
        AssociationRules().score(H)
    with pytest.raises(AssociationError, match="3 families"):
        AssociationRules().fit(H[:, :2], FAMILIES)
