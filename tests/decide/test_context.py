"""Customer context: resampling keeps rows whole and keys unique."""

from __future__ import annotations

from nextbest.decide.context import synthetic_context

from .conftest import default_catalogue


def test_resample_draws_whole_rows_with_new_unique_keys() -> None:
    context = synthetic_context(30, default_catalogue().ids, seed=2)
    bigger = context.resample(200, seed=4)
    assert len(bigger) == 200 and len(set(bigger.customer_keys)) == 200
    assert bigger.snapshot_version == "synthetic-2+resampled:200:4"
    originals = {
        tuple(v for k, v in context.record(i).items() if k != "customer_key"): i
        for i in range(len(context))
    }
    for row in range(200):
        key = tuple(v for k, v in bigger.record(row).items() if k != "customer_key")
        source = originals[key]  # every drawn row is one original customer, whole
        assert (bigger.propensity[row] == context.propensity[source]).all()
        assert (bigger.value[row] == context.value[source]).all()
    assert (context.resample(200, seed=4).propensity == bigger.propensity).all()  # seeded
