import itertools

import numpy as np
import pandas as pd
import pytest

from nextbest.models.binning import BINNING_METHODS, BinningError, BinningMethod, fit_binning

methods = pytest.mark.parametrize("method", BINNING_METHODS)


def _data(n: int = 5000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(50, 15, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(x - 60) / 8))).astype(int)
    return x, y


@methods
def test_numeric_binning_is_monotonic_and_respects_min_size(method: BinningMethod) -> None:
    x, y = _data()
    x[:200] = np.nan
    b = fit_binning(x, y, feature="utilisation", method=method, min_bin_share=0.05)
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
    assert len(intervals) >= 3


@methods
def test_descending_trend_is_found(method: BinningMethod) -> None:
    x, y = _data(seed=1)
    b = fit_binning(-x, y, method=method)
    rates = [bin_.event_rate for bin_ in b.bins]
    assert b.trend == "descending" and len(rates) >= 3
    assert all(r2 <= r1 for r1, r2 in itertools.pairwise(rates))


@methods
def test_woe_and_iv_hand_computed(method: BinningMethod) -> None:
    # Two levels: a = 10 records with 2 events, b = 10 records with 6 events.
    x = ["a"] * 10 + ["b"] * 10
    y = [1] * 2 + [0] * 8 + [1] * 6 + [0] * 4
    b = fit_binning(x, y, feature="grade", method=method, min_bin_share=0.0)
    by = {bin_.label: bin_ for bin_ in b.bins}
    ev = {"a": (2 + 0.5) / (8 + 1), "b": (6 + 0.5) / (8 + 1)}
    non = {"a": (8 + 0.5) / (12 + 1), "b": (4 + 0.5) / (12 + 1)}
    for k in ("a", "b"):
        assert by[k].woe == pytest.approx(np.log(non[k] / ev[k]))
    expected_iv = sum((non[k] - ev[k]) * np.log(non[k] / ev[k]) for k in ("a", "b"))
    assert b.iv == pytest.approx(expected_iv)


def test_pav_transform_maps_values_and_unseen_levels_to_zero() -> None:
    x = pd.Series(["a"] * 50 + ["b"] * 50 + ["rare"] * 2)
    y = np.array([0] * 40 + [1] * 10 + [0] * 20 + [1] * 30 + [1, 0])
    b = fit_binning(x, y, feature="grade", method="pav", min_bin_share=0.05)
    assert "(other)" in {bin_.label for bin_ in b.bins}
    woe = b.transform(pd.Series(["a", "b", "rare", "never seen", None]))
    by = {bin_.label: bin_.woe for bin_ in b.bins}
    assert woe[0] == pytest.approx(by["a"]) and woe[1] == pytest.approx(by["b"])
    assert woe[2] == pytest.approx(by["(other)"]) and woe[3] == pytest.approx(by["(other)"])
    assert woe[4] == 0.0  # missing never seen in training


@methods
def test_numeric_transform_uses_right_closed_cuts(method: BinningMethod) -> None:
    x, y = _data()
    b = fit_binning(x, y, method=method)
    cut = b.cuts[0]
    woe = b.transform([cut, np.nextafter(cut, np.inf), np.nan])
    assert woe[0] == pytest.approx(b.bins[0].woe)
    assert woe[1] == pytest.approx(b.bins[1].woe)
    assert woe[2] == 0.0


@methods
def test_bad_target_and_empty_variable_are_named(method: BinningMethod) -> None:
    with pytest.raises(BinningError, match="income"):
        fit_binning([1, 2, 3], [0, 2, 1], feature="income", method=method)
    with pytest.raises(BinningError, match="limit: no non-missing"):
        fit_binning([np.nan, np.nan], [0, 1], feature="limit", method=method)


def test_optimal_categorical_groups_levels_by_event_rate() -> None:
    rng = np.random.default_rng(2)
    rates = {"a": 0.05, "b": 0.06, "c": 0.2, "d": 0.45, "r1": 0.9, "r2": 0.1}
    sizes = {"a": 1500, "b": 1500, "c": 1000, "d": 800, "r1": 60, "r2": 40}
    levels = np.repeat(list(sizes), list(sizes.values()))
    y = (rng.random(levels.size) < np.array([rates[v] for v in levels])).astype(int)
    x = pd.Series(levels, dtype="category")  # pandas' categorical dtype
    x[:100] = np.nan  # 100 of the "a" records
    b = fit_binning(x, y, feature="segment", method="optimal", min_bin_share=0.05)
    assert b.kind == "categorical"
    *groups, other, missing = b.bins
    assert missing.label == "(missing)" and missing.count == 100
    # r1 and r2 (under 5 % each) are pooled as "(other)", a bin of its own
    assert other.label == "(other)" and other.count == 100
    assert set(other.categories) == {"r1", "r2", "(other)"}
    assert sum(g.count for g in b.bins) == levels.size
    assert len(groups) >= 2 and all(g.count >= 0.05 * (levels.size - 100) for g in groups)
    rates_ = [g.event_rate for g in groups]
    assert all(r2 >= r1 for r1, r2 in itertools.pairwise(rates_))
    by_level = {c: g.woe for g in groups for c in g.categories}
    woe = b.transform(pd.Series(["a", "d", "r1", "never seen", None]))
    assert woe[0] == pytest.approx(by_level["a"]) and woe[1] == pytest.approx(by_level["d"])
    assert woe[2] == pytest.approx(other.woe)
    assert woe[3] == pytest.approx(other.woe)  # a level never seen: the "(other)" bin
    assert woe[4] == pytest.approx(missing.woe)
    assert b.iv == pytest.approx(sum(g.iv for g in b.bins))


def test_optimal_categorical_without_rare_levels_gives_unseen_levels_woe_zero() -> None:
    x = ["a"] * 300 + ["b"] * 300
    y = [1] * 30 + [0] * 270 + [1] * 120 + [0] * 180
    b = fit_binning(x, y, feature="grade", method="optimal")
    assert [g.label for g in b.bins] == ["a", "b"]
    woe = b.transform(["b", "never seen", None])
    assert woe[0] == pytest.approx(b.bins[1].woe)
    assert woe[1] == 0.0 and woe[2] == 0.0  # no "(other)" and no missing bin in training
