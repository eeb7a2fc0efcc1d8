"""Propensity on a generated bank: models, rules and ALS against each other and the oracle."""

from __future__ import annotations

import numpy as np
import pytest

from nextbest.models.propensity import (
    FAMILIES,
    SCORERS,
    AdoptionPanel,
    PropensityError,
    PropensitySuite,
    build_adoption_panel,
    choose_scorers,
    compare_scorers,
    precision_at_k,
)
from nextbest.services.modelling import demo_propensity_oracle, product_families
from tests.models.generated import generated_bank


@pytest.fixture(scope="module")
def panel() -> AdoptionPanel:
    gb = generated_bank()
    return build_adoption_panel(gb.frames, gb.spec)


@pytest.fixture(scope="module")
def fitted(panel: AdoptionPanel) -> tuple[PropensitySuite, dict]:
    gb = generated_bank()
    val = panel.rows("validation")
    oracle = demo_propensity_oracle(
        gb.bank, gb.keyring, gb.spec.validation_as_of, panel.frame.loc[val, "customer_key"],
        panel.families, product_families(gb.warehouse, gb.loaded_by), gb.spec.horizon_months,
    )  # fmt: skip
    suite = PropensitySuite(seed=5).fit(panel)
    comparison = compare_scorers(suite, panel, {"oracle": oracle})
    choose_scorers(suite, comparison)
    return suite, comparison


def test_panel_is_point_in_time_and_eligibility_excludes_holders(panel: AdoptionPanel) -> None:
    gb = generated_bank()
    assert panel.families == FAMILIES
    assert set(panel.frame["as_of_date"]) == {*gb.spec.train_as_of, gb.spec.validation_as_of}
    assert panel.held.shape == panel.adopted.shape == (len(panel.frame), len(FAMILIES))
    assert set(panel.frame["stage"]) <= {"new", "active", "mature", "dormant"}
    assert "aum_chg_1m" in panel.features and "stage_3m_ago" in panel.features
    # every live customer holds the basic account: no one is eligible for demand deposits
    summary = panel.summary()["families"]
    assert summary["demand_deposit"]["train"]["eligible"] == 0
    assert summary["time_deposit"]["validation"]["adoptions"] > 0


def test_models_beat_baselines_and_stay_near_the_oracle(fitted) -> None:
    suite, comparison = fitted
    print({f["family"]: (f["adoptions"], f["auc"]) for f in comparison["families"]})
    rows = [f for f in comparison["families"] if f["adoptions"] >= 15 and "model" in f["auc"]]
    assert len(rows) >= 3
    weights = np.array([f["adoptions"] for f in rows], dtype=float)

    def mean(name: str) -> float:
        return float(np.average([f["auc"][name] for f in rows], weights=weights))

    # small bank (a few dozen adoptions per family): looser than the 200,000-customer band
    assert mean("model") >= mean("oracle") - 0.10
    assert mean("model") >= mean("product_count") + 0.03
    assert mean("model") >= mean("als")
    pk = comparison["precision_at_k"]
    assert pk["model"]["p@1"] > 0 and pk["customers"] > 0
    assert set(suite.choice_) == set(suite.families_) and "demand_deposit" not in suite.choice_
    assert all(f["chosen"] in SCORERS for f in comparison["families"] if f["chosen"])


def test_predict_uses_the_chosen_scorer_and_hides_held_families(fitted, panel) -> None:
    suite, _ = fitted
    val = panel.rows("validation")
    frame = panel.frame[val].reset_index(drop=True)
    scores = suite.predict(frame)
    assert list(scores.columns) == ["customer_key", *FAMILIES]
    held = panel.held[val]
    values = scores[list(FAMILIES)].to_numpy()
    assert np.isnan(values[held]).all()
    probs = values[~np.isnan(values)]
    assert ((probs >= 0) & (probs <= 1)).all()
    fam = "time_deposit"
    chosen = suite.scorer_for(fam)
    direct = suite.scores(frame, chosen)[fam].to_numpy()
    assert np.allclose(scores[fam].to_numpy(), direct, equal_nan=True)
    # calibrated: mean predicted adoption close to the training rate, not to 0.5
    j = FAMILIES.index(fam)
    rate = panel.adopted[val & ~panel.held[:, j], j].mean()
    assert abs(np.nanmean(suite.scores(frame, "model")[fam]) - rate) < 0.05
    with pytest.raises(PropensityError, match="unknown scorer"):
        suite.scores(frame, "magic")  # type: ignore[arg-type]


def test_choice_prefers_the_best_auc_and_the_model_on_ties(fitted) -> None:
    suite, comparison = fitted
    fake = {"families": [
        {"family": f, "auc": {"model": 0.7, "rules": 0.8 if f == "fund" else 0.7, "als": 0.6}}
        for f in suite.families_
    ]}  # fmt: skip
    choice = choose_scorers(suite, fake)
    assert choice["fund"] == "rules" and choice["time_deposit"] == "model"
    choose_scorers(suite, comparison)  # restore


def test_precision_at_k_by_hand() -> None:
    scores = np.array([[0.9, 0.1, np.nan], [0.2, 0.8, 0.5], [0.3, 0.2, 0.1]])
    adopted = np.array([[True, False, False], [False, False, True], [False, False, False]])
    assert precision_at_k(scores, adopted, 1) == (0.5, 2)
    assert precision_at_k(scores, adopted, 2) == (0.5, 2)
