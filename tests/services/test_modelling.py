"""Model workflows over an installation: churn (train, score with drift, warn), propensity, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nextbest.services.modelling import (
    CHURN_MODEL,
    PROPENSITY_MODEL,
    model_registry,
    propensity_choice,
    score_churn,
    score_propensity,
    train_churn,
    train_propensity,
    warn_churn,
)
from tests.models.generated import LAST_DAY, generated_bank
from tests.services.conftest import run_cli


def test_train_register_score_warn_and_registry_cli() -> None:
    gb = generated_bank()
    steps: list[str] = []
    trained = train_churn(
        gb.settings, train_points=2, seed=3, last_day=LAST_DAY, bank=gb.bank,
        warehouse=gb.warehouse, frames=gb.frames, on_step=steps.append,
    )  # fmt: skip
    entry = trained.entry
    assert entry.name == CHURN_MODEL and entry.seed == 3 and entry.kind == "churn_3m"
    assert entry.data_window == ("2026-03-31", "2026-10-31")
    assert "oracle" in trained.evaluation["baseline_auc"] and steps[-1] == "fitting"
    assert trained.evaluation["auc"] > trained.evaluation["baseline_auc"]["recency"]
    second = train_churn(gb.settings, train_points=2, seed=4, last_day=LAST_DAY,
                         warehouse=gb.warehouse, frames=gb.frames)  # fmt: skip
    registry = model_registry(gb.settings)
    assert registry.champion_version(CHURN_MODEL) == entry.version != second.entry.version

    scores = score_churn(gb.settings, as_of=gb.spec.validation_as_of, warehouse=gb.warehouse,
                         frames=gb.frames)  # fmt: skip
    assert scores.version == entry.version and len(scores.scores) > 1500
    assert scores.scores["probability"].between(0, 1).all()
    # the population three months after training is close to the training population
    assert scores.drift.level in ("stable", "warn")
    psi = {r.variable: r.psi for r in scores.drift.results}
    assert "score" in psi and psi["score"] < 0.25
    warnings = warn_churn(gb.settings, as_of=gb.spec.validation_as_of, limit=10,
                          warehouse=gb.warehouse, frames=gb.frames)  # fmt: skip
    assert 0 < len(warnings) <= 10 and warnings[0].reasons

    listed = run_cli(gb.settings, "model", "registry", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["version"], r["status"]) for r in rows] == [
        (entry.version, "champion"), (second.entry.version, "challenger"),
    ]  # fmt: skip
    promoted = run_cli(gb.settings, "model", "registry", "promote", "churn",
                       second.entry.version, "--json")  # fmt: skip
    assert promoted.returncode == 0, promoted.stderr
    assert json.loads(promoted.stdout)["champion"] == second.entry.version
    missing = run_cli(gb.settings, "model", "registry", "promote", "churn", "v0099")
    assert missing.returncode != 0 and "no version 'v0099'" in (missing.stderr + missing.stdout)
    reports = run_cli(gb.settings, "model", "registry", "reports", "churn", "--version",
                      entry.version, "--json")  # fmt: skip
    assert reports.returncode == 0, reports.stderr
    page = Path(json.loads(reports.stdout)["reports"]["validation"])
    stored = json.loads(page.with_suffix(".json").read_text(encoding="utf-8"))
    assert stored["model"]["auc"] == pytest.approx(trained.evaluation["auc"])
    assert {"recency", "rfm", "oracle"} <= set(stored["baselines"]) and stored["importance"]


def test_propensity_train_choice_score_and_cli() -> None:
    gb = generated_bank()
    trained = train_propensity(
        gb.settings, train_points=2, seed=3, last_day=LAST_DAY, bank=gb.bank,
        warehouse=gb.warehouse, frames=gb.frames,
    )  # fmt: skip
    assert trained.entry.name == PROPENSITY_MODEL and trained.entry.kind == "propensity_3m"
    assert trained.choice and set(trained.choice.values()) <= {"model", "rules", "als"}
    rows = {f["family"]: f for f in trained.comparison["families"]}
    assert "oracle" in rows["time_deposit"]["auc"]
    # one evaluation report per family with validation adoptions, the others as baselines
    pages = model_registry(gb.settings).reports(PROPENSITY_MODEL, trained.entry.version)
    assert "time_deposit" in pages and "demand_deposit" not in pages
    report = json.loads(pages["time_deposit"].with_suffix(".json").read_text(encoding="utf-8"))
    assert report["model"]["auc"] == pytest.approx(rows["time_deposit"]["auc"]["model"])
    assert {"rules", "als", "oracle"} <= set(report["baselines"])
    # the choice is data in the registry, readable without loading the model
    assert propensity_choice(gb.settings) == trained.choice
    scored = score_propensity(gb.settings, as_of=gb.spec.validation_as_of,
                              warehouse=gb.warehouse, frames=gb.frames)  # fmt: skip
    assert scored.version == trained.entry.version and len(scored.scores) > 1500
    assert scored.scores.columns[0] == "customer_key"
    assert scored.scores["demand_deposit"].isna().all()  # everyone holds it
    assert scored.scores["time_deposit"].dropna().between(0, 1).all()
    shown = run_cli(gb.settings, "model", "propensity", "choice", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == trained.choice
