"""Decision context sources: model propensities replace seeded ones where a model scores."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from nextbest.decide.context import synthetic_context
from nextbest.decide.sources import with_model_propensity

from .conftest import default_catalogue


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
