"""Churn model on a generated bank: against the oracle and the baselines; list and hook."""

from __future__ import annotations

import numpy as np
import pytest

from nextbest.models.churn import ChurnError, ChurnModel, EarlyWarning, trigger_retention
from nextbest.services.modelling import demo_churn_oracle
from tests.models.generated import generated_bank


@pytest.fixture(scope="module")
def fitted() -> ChurnModel:
    return ChurnModel(seed=7).fit(generated_bank().churn)


def test_churn_beats_baselines_and_stays_near_the_oracle(fitted: ChurnModel) -> None:
    gb = generated_bank()
    keys = gb.churn.keys("validation")
    oracle = demo_churn_oracle(gb.bank, gb.keyring, gb.spec.validation_as_of, keys["customer_key"])
    ev = fitted.evaluate(gb.churn, {"oracle": oracle})
    print(ev.to_dict())
    assert ev.events >= 20
    # small bank (few events): looser than the 200,000-customer targets
    assert ev.auc >= ev.baseline_auc["oracle"] - 0.08
    assert ev.auc >= ev.baseline_auc["recency"] + 0.02
    assert ev.auc >= ev.baseline_auc["rfm"] + 0.02
    assert ev.brier < ev.report.model.calibration.brier_reference


def test_bands_and_early_warning_list_with_reasons(fitted: ChurnModel) -> None:
    gb = generated_bank()
    snap = gb.frames.at(gb.spec.validation_as_of)
    live = snap[snap.stage.isin(["new", "active", "mature", "dormant"])]
    scored = fitted.score(live)
    assert set(scored["band"]) <= {"very_high", "high", "medium", "low"}
    # bands are ordered by probability
    means = scored.groupby("band")["probability"].min()
    assert means["very_high"] >= means["high"] >= means["medium"] >= means["low"]
    warnings = fitted.early_warning(live, min_band="high", limit=25)
    assert 0 < len(warnings) <= 25
    probs = [w.probability for w in warnings]
    assert probs == sorted(probs, reverse=True)
    assert all(w.band in ("very_high", "high") for w in warnings)
    assert all(0 < len(w.reasons) <= 3 and all(r.contribution > 0 for r in w.reasons)
               for w in warnings[:5])  # fmt: skip
    assert warnings[0].reasons[0].feature in fitted.features_


def test_retention_hook_receives_only_the_chosen_bands() -> None:
    seen: list[list[str]] = []

    def hook(batch):
        seen.append([w.customer_key for w in batch])
        return len(batch)

    ws = [
        EarlyWarning("a", 0.9, "very_high", ()),
        EarlyWarning("b", 0.4, "high", ()),
        EarlyWarning("c", 0.2, "medium", ()),
    ]
    assert trigger_retention(ws, hook) == 2 and seen == [["a", "b"]]
    assert trigger_retention(ws, hook, bands=("very_high",), min_probability=0.95) == 0
    assert len(seen) == 1  # not called when nobody qualifies


def test_unfitted_and_eventless_sets_are_refused() -> None:
    gb = generated_bank()
    with pytest.raises(ChurnError, match="not fitted"):
        ChurnModel().predict(gb.churn.part("validation")[0])
    empty = gb.churn.frame.assign(label=0)
    from dataclasses import replace

    with pytest.raises(ChurnError, match="churn event"):
        ChurnModel().fit(replace(gb.churn, frame=empty))
    assert np.isfinite(gb.churn.frame["label"]).all()
