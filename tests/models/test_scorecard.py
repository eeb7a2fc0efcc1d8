"""Scorecard tests. Bank-additional stands in for credit-performance data, which arrives
with the demo bank: the subscription outcome plays the role of the 'bad' label."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nextbest.models.binning import BINNING_METHODS, BinningMethod
from nextbest.models.evaluation import roc_auc
from nextbest.models.scorecard import Scorecard
from nextbest.models.table_io import read_table
from nextbest.models.training import prepare_table


def _credit(n: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    util = rng.uniform(0, 1, n)
    late = rng.poisson(0.5, n)
    region = rng.choice(["east", "west", "north"], n)
    noise = rng.normal(size=n)
    logit = -4 + 3 * util + 0.8 * late + 0.5 * (region == "west")
    bad = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"util": util, "late": late, "region": region, "noise": noise}), bad


methods = pytest.mark.parametrize("binning", BINNING_METHODS)


@methods
def test_points_reproduce_the_configured_scaling_exactly(binning: BinningMethod) -> None:
    X, y = _credit()
    card = Scorecard(binning=binning, base_score=600, base_odds=50, pdo=20).fit(X, y)
    logit = card.decision_function(X)
    odds_good = np.exp(-logit)
    expected = 600 + 20 / np.log(2) * np.log(odds_good / 50)
    np.testing.assert_allclose(card.credit_score(X), expected, atol=1e-9)
    # A record at 50:1 would score 600; doubling the odds adds exactly 20 points.
    assert card.offset_ + card.factor_ * np.log(50) == pytest.approx(600)
    assert card.factor_ * np.log(100) - card.factor_ * np.log(50) == pytest.approx(20)


@methods
def test_exported_table_reproduces_the_scores(binning: BinningMethod) -> None:
    X, y = _credit()
    X.loc[::25, "util"] = np.nan  # a missing bin in the table too
    card = Scorecard(binning=binning, base_score=500, base_odds=20, pdo=40).fit(X, y)
    table = card.table_frame()
    assert table.iloc[0]["feature"] == "(base points)"
    # Score by hand from the exported table only: find each record's bin row, add points.
    total = np.full(len(X), table.iloc[0]["points"])
    for feature in card.selected_:
        rows = table[table.feature == feature].reset_index(drop=True)
        idx = card.binnings_[feature].bin_index(X[feature])
        total += rows.loc[idx, "points"].to_numpy()
    np.testing.assert_allclose(total, card.credit_score(X), atol=1e-9)
    assert "(missing)" in set(table[table.feature == "util"].bin)


@methods
def test_iv_selection_drops_noise_and_pd_ranks_risk(binning: BinningMethod) -> None:
    X, y = _credit()
    card = Scorecard(binning=binning, min_iv=0.02).fit(X, y)
    assert "noise" not in card.selected_
    assert card.selected_[0] == "util"
    pd_ = card.probability_of_default(X)
    assert roc_auc(y, pd_) > 0.75
    assert abs(pd_.mean() - y.mean()) < 0.01
    # Higher score, lower risk.
    assert np.corrcoef(card.credit_score(X), pd_)[0, 1] < -0.9


@methods
def test_bank_additional_stand_in(shared_dir: Path, binning: BinningMethod) -> None:
    table = read_table(shared_dir / "datasets" / "bank-additional.csv")
    prepared = prepare_table(table, "y", exclude=["duration"])
    X, y = prepared.features, prepared.y
    train = np.arange(len(y)) % 4 != 0
    card = Scorecard(binning=binning, max_features=8).fit(X[train], y[train])
    auc = roc_auc(y[~train], card.probability_of_default(X[~train]))
    assert len(card.selected_) == 8
    assert {"euribor3m", "nr.employed"} & set(card.selected_)
    assert 0.72 <= auc <= 0.82


def test_unknown_binning_is_rejected() -> None:
    X, y = _credit(n=200)
    with pytest.raises(ValueError, match="binning"):
        Scorecard(binning="quantile").fit(X, y)  # type: ignore[arg-type]


def test_a_scorecard_saved_before_the_binning_parameter_loads_as_pav() -> None:
    import pickle

    X, y = _credit(n=1500)
    card = Scorecard(binning="pav").fit(X, y)
    state = card.__getstate__()
    del state["binning"]  # as pickled by the version without the parameter
    old = Scorecard.__new__(Scorecard)
    old.__setstate__(state)
    loaded = pickle.loads(pickle.dumps(old))
    assert loaded.get_params()["binning"] == "pav"
    np.testing.assert_allclose(loaded.credit_score(X), card.credit_score(X))
