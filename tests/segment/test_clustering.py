"""Data-driven segments: recovered on separable synthetic customers, seeded, assignable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from nextbest.segment.clustering import SegmentationError, SegmentModel

FEATURES = (("aum", "log"), ("age", "raw"), ("txn_count_90d", "log"), ("holds_mortgage", "raw"))


def _customers(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n)
    aum = np.array([5e3, 3e5, 2e6])[truth] * rng.lognormal(0, 0.3, n)
    age = np.array([25, 45, 68])[truth] + rng.normal(0, 3, n)
    txn = np.array([40, 12, 3])[truth] * rng.lognormal(0, 0.3, n)
    frame = pd.DataFrame(
        {"customer_key": [f"k{i}" for i in range(n)], "aum": aum, "age": age,
         "txn_count_90d": txn, "holds_mortgage": truth == 1}
    )  # fmt: skip
    frame.loc[::50, "age"] = np.nan  # missing values are filled with the fit median
    return frame, truth


@pytest.mark.parametrize("method", ["kmeans", "gmm"])
def test_recovers_separable_segments_and_assigns_new_customers(method: str) -> None:
    frame, truth = _customers(1500, seed=1)
    model = SegmentModel(method=method, k_range=(2, 3, 4, 5), features=FEATURES,
                         sample_size=1000, random_state=3).fit(frame)  # fmt: skip
    assert model.k_ == 3, model.scores_
    assert adjusted_rand_score(truth, model.predict(frame)) > 0.9
    fresh, fresh_truth = _customers(300, seed=2)
    assert adjusted_rand_score(fresh_truth, model.predict(fresh)) > 0.9
    d = model.descriptions_
    assert [x.segment for x in d] == ["s1", "s2", "s3"]
    assert d[0].customers >= d[1].customers >= d[2].customers
    assert all(len(x.top_features) == 3 and x.label_zh and x.label_en for x in d)
    again = SegmentModel(method=method, k_range=(2, 3, 4, 5), features=FEATURES,
                         sample_size=1000, random_state=3).fit(frame)  # fmt: skip
    assert (again.predict(frame) == model.predict(frame)).all()


def test_errors_are_clear() -> None:
    frame, _ = _customers(20, seed=1)
    with pytest.raises(SegmentationError, match="too few"):
        SegmentModel(features=FEATURES).fit(frame.head(5))
    with pytest.raises(SegmentationError, match="not fitted"):
        SegmentModel(features=FEATURES).predict(frame)
    with pytest.raises(SegmentationError, match="missing"):
        SegmentModel(features=(("nope", "raw"),), k_range=(2,)).fit(frame)
