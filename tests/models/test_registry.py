"""Model registry: versions, champion/challenger, loading, drift against training."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nextbest.models.registry import ModelRegistry, RegistryError
from nextbest.models.tabular import TabularClassifier


def _data(seed: int, shift: float = 0.0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(shift, 1, 600), "b": rng.choice(["x", "y"], 600)})
    y = (X["a"] + rng.normal(0, 1, 600) > 0).astype(int).to_numpy()
    return X, y


def _register(reg: ModelRegistry, seed: int):
    X, y = _data(seed)
    model = TabularClassifier(n_estimators=20, random_state=seed).fit(X, y)
    return reg.register(
        "toy",
        model,
        kind="toy",
        data_window=("2026-01-31", "2026-10-31"),
        features=["a", "b"],
        metrics={"auc": 0.7},
        seed=seed,
        reference=X,
        reference_score=model.predict_proba(X)[:, 1],
    )


def test_versions_champion_promotion_and_loading(tmp_path) -> None:
    reg = ModelRegistry(tmp_path / "models")
    first = _register(reg, 1)
    second = _register(reg, 2)
    assert (first.version, second.version) == ("v0001", "v0002")
    assert reg.champion_version("toy") == "v0001"
    assert [(e.version, s) for e, s in reg.entries()] == [
        ("v0001", "champion"), ("v0002", "challenger"),
    ]  # fmt: skip
    assert second.code_version and second.seed == 2 and second.features == ("a", "b")
    reg.promote("toy", "v0002")
    model, entry = reg.load("toy")
    assert entry.version == "v0002" and reg.status("toy", "v0001") == "challenger"
    X, _ = _data(9)
    p = model.predict_proba(X)[:, 1]
    assert np.array_equal(p, reg.load("toy", "v0002")[0].predict_proba(X)[:, 1])
    with pytest.raises(RegistryError, match="no version 'v0009'"):
        reg.promote("toy", "v0009")
    with pytest.raises(RegistryError, match="no model named 'churn'"):
        reg.load("churn")


def test_drift_alerts_on_a_shifted_population_only(tmp_path) -> None:
    reg = ModelRegistry(tmp_path / "models")
    _register(reg, 1)
    model, _ = reg.load("toy")
    same, _ = _data(5)
    moved, _ = _data(6, shift=1.5)
    stable = reg.drift("toy", same, model.predict_proba(same)[:, 1])
    assert stable.level == "stable" and not stable.alerts()
    shifted = reg.drift("toy", moved, model.predict_proba(moved)[:, 1])
    assert shifted.level == "alert"
    assert {r.variable for r in shifted.alerts()} >= {"a", "score"}
    assert shifted.to_dict()["variables"][0]["variable"] in ("a", "score")


def test_evaluation_reports_are_stored_as_html_and_json_per_version(tmp_path) -> None:
    import json

    from nextbest.models.report import build_report

    reg = ModelRegistry(tmp_path / "models")
    X, y = _data(3)
    model = TabularClassifier(n_estimators=20, random_state=3).fit(X, y)
    score = model.predict_proba(X)[:, 1]
    report = build_report("Toy", y, score, baselines={"a alone": X["a"].to_numpy()})
    entry = reg.register("toy", model, kind="toy", data_window=("2026-01-31", "2026-10-31"),
                         features=["a", "b"], metrics={}, seed=3,
                         reports={"validation": report})  # fmt: skip
    pages = reg.reports("toy", entry.version)
    assert list(pages) == ["validation"]
    assert "<svg" in pages["validation"].read_text(encoding="utf-8")
    stored = json.loads(pages["validation"].with_suffix(".json").read_text(encoding="utf-8"))
    assert stored["model"]["auc"] == pytest.approx(report.model.auc)
    assert set(stored["baselines"]) == {"a alone"}
    assert reg.reports("toy", _register(reg, 4).version) == {}  # registered without
    with pytest.raises(RegistryError, match="not a plain name"):
        reg.register("toy", model, kind="toy", data_window=("2026-01-31", "2026-10-31"),
                     features=["a", "b"], metrics={}, seed=3,
                     reports={"../x": report})  # fmt: skip
    assert [e.version for e, _ in reg.entries("toy")] == ["v0001", "v0002"]  # nothing left
