"""Implicit ALS on holdings: the loss falls, co-held items score higher, fold-in is per row."""

from __future__ import annotations

import numpy as np
import pytest

from nextbest.models.recommender import ImplicitALS, RecommenderError


def _two_groups(n: int, seed: int) -> np.ndarray:
    """Items 0-2 are held together by one group, 3-5 by another, each with noise."""
    rng = np.random.default_rng(seed)
    group = rng.random(n) < 0.5
    p = np.where(
        group[:, None], [0.7, 0.6, 0.5, 0.05, 0.05, 0.05], [0.05, 0.05, 0.05, 0.7, 0.6, 0.5]
    )
    return rng.random((n, 6)) < p


def test_loss_decreases_and_co_held_items_score_higher() -> None:
    H = _two_groups(5000, 1)
    als = ImplicitALS(factors=2, iterations=10, seed=3).fit(H, list("abcdef"))
    assert all(b <= a + 1e-9 for a, b in zip(als.loss_, als.loss_[1:], strict=False))
    s = als.score(np.array([[1, 1, 0, 0, 0, 0], [0, 0, 0, 1, 1, 0]], dtype=bool))
    assert s[0, 2] > s[0, 5]  # holders of a and b: c before f
    assert s[1, 5] > s[1, 2]


def test_scores_depend_only_on_the_row_and_are_reproducible() -> None:
    H = _two_groups(2000, 2)
    a = ImplicitALS(seed=5).fit(H, list("abcdef"))
    b = ImplicitALS(seed=5).fit(H, list("abcdef"))
    assert np.array_equal(a.item_factors_, b.item_factors_)
    full = a.score(H)
    assert np.allclose(full[:7], a.score(H[:7]))
    assert a.score(H[:0]).shape == (0, 6)


def test_errors() -> None:
    with pytest.raises(RecommenderError, match="not fitted"):
        ImplicitALS().score(np.zeros((1, 2), bool))
    with pytest.raises(RecommenderError, match="3 items"):
        ImplicitALS().fit(np.zeros((4, 2), bool), ["a", "b", "c"])
