import math

import numpy as np
import pandas as pd
import pytest

from nextbest.models.drift import (
    DriftInputError,
    drift_level,
    population_stability,
    population_stability_table,
)


def test_psi_hand_computed_for_categories() -> None:
    ref = ["a"] * 50 + ["b"] * 50
    cur = ["a"] * 80 + ["b"] * 20
    result = population_stability(ref, cur, variable="segment")
    expected = (0.8 - 0.5) * math.log(0.8 / 0.5) + (0.2 - 0.5) * math.log(0.2 / 0.5)
    # The "(new level)" bin is empty in both and adds nothing.
    assert result.psi == pytest.approx(expected)
    assert result.kind == "categorical"
    assert result.level == "alert"  # 0.416
    assert [b.label for b in result.bins] == ["a", "b", "(new level)"]


def test_identical_populations_are_stable_and_psi_is_zero() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=5000)
    result = population_stability(x, x.copy())
    assert result.psi == pytest.approx(0.0, abs=1e-12)
    assert result.level == "stable"
    # Quantile bins: each reference bin holds a tenth (plus an empty missing bin).
    assert [round(b.reference_share, 3) for b in result.bins[:10]] == [0.1] * 10


def test_shift_in_mean_raises_the_level() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(size=20000)
    small = population_stability(ref, rng.normal(0.1, 1, 20000))
    medium = population_stability(ref, rng.normal(0.45, 1, 20000))
    large = population_stability(ref, rng.normal(1.0, 1, 20000))
    assert small.level == "stable"
    assert medium.level == "warn"
    assert large.level == "alert"
    assert small.psi < medium.psi < large.psi


def test_empty_bins_use_epsilon_and_new_levels_and_missing_are_bins() -> None:
    result = population_stability(["a", "a", None], ["c", "c", "a"], variable="region")
    labels = {b.label: b for b in result.bins}
    assert labels["(new level)"].current_share == pytest.approx(2 / 3)
    assert labels["(new level)"].reference_share == pytest.approx(1e-4)
    assert math.isfinite(result.psi)
    numeric = population_stability([1.0, 2.0, np.nan, 4.0], [np.nan] * 4)
    assert numeric.bins[-1].label == "(missing)"
    assert numeric.bins[-1].current_share == 1.0


def test_thresholds() -> None:
    assert drift_level(0.099) == "stable"
    assert drift_level(0.1) == "warn"
    assert drift_level(0.2499) == "warn"
    assert drift_level(0.25) == "alert"
    assert drift_level(0.05, warn=0.02, alert=0.04) == "alert"


def test_table_sorts_by_shift_and_includes_the_score() -> None:
    rng = np.random.default_rng(2)
    ref = pd.DataFrame({"age": rng.normal(40, 10, 3000), "segment": rng.choice(["x", "y"], 3000)})
    cur = pd.DataFrame({"age": rng.normal(48, 10, 3000), "segment": rng.choice(["x", "y"], 3000)})
    table = population_stability_table(
        ref, cur, scores={"score": (rng.uniform(size=3000), rng.uniform(size=3000))}
    )
    assert table[0].variable == "age"
    assert {r.variable for r in table} == {"age", "segment", "score"}
    assert table[0].to_dict()["bins"][0]["label"].startswith("(-inf")
    with pytest.raises(DriftInputError, match=r"lacks column.*age"):
        population_stability_table(ref, cur.drop(columns=["age"]))
