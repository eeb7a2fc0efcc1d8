"""Policy and catalogue loading: validation errors name the rule and the problem."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from nextbest.decide.context import synthetic_context
from nextbest.decide.errors import DecisionError
from nextbest.decide.offers import parse_catalogue
from nextbest.decide.policies import parse_policy
from nextbest.decide.pricing import explain_price, price
from tests.decide.conftest import default_catalogue, default_engine, default_policy


def test_defaults_load_and_have_stable_versions() -> None:
    assert len(default_catalogue()) == 15
    assert default_policy().version == parse_policy(default_policy().body()).version


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("age >=", "eligibility rule 'r'"),
        ("agee >= 18", "unknown column 'agee'"),
        ("age + 1", "must be true/false"),
        ("kyc_status > 3", "cannot compare"),
    ],
)
def test_bad_expressions_are_refused(rule: str, message: str) -> None:
    with pytest.raises(DecisionError, match=message):
        parse_policy({"name": "p", "eligibility": [{"name": "r", "reason": "x", "require": rule}]})


def test_bad_sections_are_refused() -> None:
    with pytest.raises(DecisionError, match=r"contact\.caps\.0\.period"):
        parse_policy(
            {"name": "p", "contact": {"caps": [{"channel": "sms", "period": "year", "max": 1}]}}
        )
    with pytest.raises(DecisionError, match="floor above ceiling"):
        parse_policy({"name": "p", "pricing": [{"name": "x", "kind": "loan_rate", "base": 1,
                                                "floor": 5, "ceiling": 4}]})  # fmt: skip


def test_catalogue_validation() -> None:
    offer = {"offer_id": "f", "product_id": "p", "product_family": "fund", "channel": "sms"}
    with pytest.raises(DecisionError, match="product_risk"):
        parse_catalogue({"offers": [offer]})
    with pytest.raises(DecisionError, match="twice"):
        parse_catalogue({"offers": [{**offer, "product_risk": "R2"}] * 2})


def test_bulk_and_record_screens_agree() -> None:
    engine = default_engine()
    context = synthetic_context(400, default_catalogue().ids, seed=9)
    day = date(2026, 6, 1)
    bulk = engine.static_codes(context, day)
    for i in range(len(context)):
        assert (engine.static_codes_record(context.record(i), day) == bulk[i]).all()


def test_loan_price_stays_in_bounds_and_is_explained() -> None:
    rule = default_policy().pricing_rule("loan_rate")
    pd = np.array([0.0, 0.01, 0.5, np.nan])
    value = np.array([3000.0, 100.0, 100.0, 100.0])
    prices = price(rule, pd, np.zeros(4), value)
    assert prices.tolist() == [3.7, 4.6, 12.0, 12.0]
    explained = explain_price(rule, 0.01, None, 600.0)
    assert explained.price == pytest.approx(4.2 + 0.4 - 0.2)
    assert explained.tier_adjustment == pytest.approx(-0.2)
