"""Decision context sources: model propensities replace seeded ones where a model scores;
the caller's PD feeds the credit PD rule."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pyarrow as pa

from nextbest.decide.context import HOLDING_COLUMNS, synthetic_context
from nextbest.decide.sources import context_from_features, with_model_propensity

from .conftest import default_catalogue, default_engine

CREDIT = {"credit_card", "consumer_loan", "mortgage", "car_loan"}


def test_model_propensity_replaces_seeded_scores_by_family() -> None:
    catalogue = default_catalogue()
    context = synthetic_context(50, catalogue.ids, seed=5)
    families = sorted({o.product_family.value for o in catalogue})
    scored, unscored = families[0], families[1]
    keys = context.customer_keys[:40]  # the last ten are not live: no model score
    values = [None if i % 7 == 0 else i / 100 for i in range(40)]  # None: already holds
    scores = pa.table({"customer_key": keys, scored: pa.array(values, pa.float64())})
    updated, source = with_model_propensity(context, catalogue, scores, "propensity:v0001")
    for j, offer in enumerate(catalogue):
        family = offer.product_family.value
        if family == scored:
            assert source[offer.offer_id] == "model"
            expected = [0.0 if v is None else v for v in values] + [0.0] * 10
            assert updated.propensity[:, j].tolist() == expected
        else:
            assert source[offer.offer_id] == "seeded"
            assert (updated.propensity[:, j] == context.propensity[:, j]).all()
    assert unscored not in scores.column_names
    assert updated.model_version.startswith("propensity:v0001+seeded:")
    assert np.isfinite(updated.propensity).all() and not math.isnan(updated.value.sum())


def _features(keys: list[str]) -> pa.Table:
    """Snapshot rows of adults without credit products, all in one province."""
    n = len(keys)
    return pa.table({
        "customer_key": keys,
        "age": [35] * n,
        "risk_level": ["C3"] * n,
        "risk_expires_on": pa.array([date(2027, 1, 1)] * n, pa.date32()),
        "aum": [50_000.0] * n,
        "province": ["east"] * n,
        **{c: [False] * n for c in HOLDING_COLUMNS},
    })  # fmt: skip


def test_pd_from_the_caller_decides_the_credit_pd_rule() -> None:
    catalogue = default_catalogue()
    engine = default_engine()
    keys = ["c-low", "c-high", "c-unknown"]
    pd_table = pa.table({"customer_key": ["c-high", "c-low", "c-absent"],
                         "probability_of_default": [0.2, 0.02, 0.01]})  # fmt: skip
    context = context_from_features(_features(keys), catalogue.ids, snapshot_version="t",
                                    default_probability=pd_table)  # fmt: skip
    assert context.attributes["pd"].to_pylist() == [0.2, 0.02, None]  # sorted by key
    codes = engine.static_codes(context, date(2026, 6, 1))
    pd_rule = engine.position["suitability.credit_pd_threshold"]
    credit = [j for j, o in enumerate(catalogue)
              if o.purpose == "marketing" and o.product_family.value in CREDIT]  # fmt: skip
    assert credit
    high, low, unknown = 0, 1, 2
    assert (codes[high, credit] == pd_rule).all() and (codes[unknown, credit] == pd_rule).all()
    assert not (codes[low, credit] == pd_rule).any() and (codes[low, credit] == 0).any()
    # without a PD table every credit marketing offer fails the rule
    blind = context_from_features(_features(keys), catalogue.ids, snapshot_version="t")
    assert (engine.static_codes(blind, date(2026, 6, 1))[:, credit] == pd_rule).all()
