import itertools

import numpy as np
import pandas as pd
import pytest

from nextbest.models.binning import BinningError, fit_binning


def _data(n: int = 5000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(50, 15, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(x - 60) / 8))).astype(int)
    return x, y


def test_numeric_binning_is_monotonic_and_respects_min_size() -> None:
    x, y = _data()
    x[:200] = np.nan
    b = fit_binning(x, y, feature="utilisation", min_bin_share=0.05)
    intervals = [bin_ for bin_ in b.bins if bin_.label != "(missing)"]
    rates = [bin_.event_rate for bin_ in intervals]
    assert b.trend == "ascending"
    assert all(r2 >= r1 for r1, r2 in itertools.pairwise(rates))
    assert all(bin_.count >= 0.05 * 4800 for bin_ in intervals)
    assert b.bins[-1].label == "(missing)" and b.bins[-1].count == 200
    assert sum(bin_.count for bin_ in b.bins) == 5000
    # Higher risk, lower WOE (credit convention ln(good share / bad share)).
    assert intervals[0].woe > intervals[-1].woe
    assert b.iv == pytest.approx(sum(bin_.iv for bin_ in b.bins))
    assert b.iv > 0.5


def test_woe_and_iv_hand_computed() -> None:
    # Two levels: a = 10 records with 2 events, b = 10 records with 6 events.
    x = ["a"] * 10 + ["b"] * 10
    y = [1] * 2 + [0] * 8 + [1] * 6 + [0] * 4
    b = fit_binning(x, y, feature="grade", min_bin_share=0.0)
    by = {bin_.label: bin_ for bin_ in b.bins}
    ev = {"a": (2 + 0.5) / (8 + 1), "b": (6 + 0.5) / (8 + 1)}
    non = {"a": (8 + 0.5) / (12 + 1), "b": (4 + 0.5) / (12 + 1)}
    for k in ("a", "b"):
        assert by[k].woe == pytest.approx(np.log(non[k] / ev[k]))
    expected_iv = sum((non[k] - ev[k]) * np.log(non[k] / ev[k]) for k in ("a", "b"))
    assert b.iv == pytest.approx(expected_iv)


def test_transform_maps_values_and_unseen_levels_to_zero() -> None:
    x = pd.Series(["a"] * 50 + ["b"] * 50 + ["rare"] * 2)
    y = np.array([0] * 40 + [1] * 10 + [0] * 20 + [1] * 30 + [1, 0])
    b = fit_binning(x, y, feature="grade", min_bin_share=0.05)
    assert "(other)" in {bin_.label for bin_ in b.bins}
    woe = b.transform(pd.Series(["a", "b", "rare", "never seen", None]))
    by = {bin_.label: bin_.woe for bin_ in b.bins}
    assert woe[0] == pytest.approx(by["a"]) and woe[1] == pytest.approx(by["b"])
    assert woe[2] == pytest.approx(by["(other)"]) and woe[3] == pytest.approx(by["(other)"])
    assert woe[4] == 0.0  # missing never seen in training


def test_numeric_transform_uses_right_closed_cuts() -> None:
    x, y = _data()
    b = fit_binning(x, y)
    cut = b.cuts[0]
    woe = b.transform([cut, np.nextafter(cut, np.inf), np.nan])
    assert woe[0] == pytest.approx(b.bins[0].woe)
    assert woe[1] == pytest.approx(b.bins[1].woe)
    assert woe[2] == 0.0


def test_bad_target_is_named() -> None:
    with pytest.raises(BinningError, match="income"):
        fit_binning([1, 2, 3], [0, 2, 1], feature="income")
