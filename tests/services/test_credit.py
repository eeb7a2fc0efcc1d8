"""Credit scorecard workflows on the generated test bank: train, register, score, export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nextbest.config import Settings
from nextbest.models.training_sets import TrainingSetError
from nextbest.services.credit import (
    CREDIT_SCORECARD,
    champion_pd_model,
    score_credit,
    train_scorecard,
)
from nextbest.services.modelling import model_registry
from tests.models.generated import LAST_DAY, GeneratedBank, generated_bank
from tests.services.conftest import run_cli


def _own_registry(gb: GeneratedBank, home: Path) -> Settings:
    """The shared bank's warehouse and keys with a registry of this test's own."""
    return Settings(home=home, warehouse_path=gb.settings.warehouse_file,
                    master_key_file=gb.settings.key_file)  # fmt: skip


def test_train_register_score_and_cli(tmp_path: Path) -> None:
    gb = generated_bank()
    settings = _own_registry(gb, tmp_path)
    assert champion_pd_model(settings) is None
    # 15 months of data: one as-of date (2025-10-31) has its 12-month window in the data
    with pytest.raises(TrainingSetError, match="points=2"):
        train_scorecard(settings, points=2, last_day=LAST_DAY, warehouse=gb.warehouse,
                        frames=gb.frames)  # fmt: skip
    steps: list[str] = []
    trained = train_scorecard(
        settings, seed=3, base_score=500, base_odds=20, pdo=40, points=1, last_day=LAST_DAY,
        bank=gb.bank, warehouse=gb.warehouse, frames=gb.frames, on_step=steps.append,
    )  # fmt: skip
    entry, ev = trained.entry, trained.evaluation
    assert entry.name == CREDIT_SCORECARD and entry.kind == "pd_90dpd_12m" and entry.seed == 3
    assert entry.data_window == ("2025-10-31", "2026-10-31")
    assert steps == ["snapshot 2025-10-31", "fitting"]
    assert "customer holdout" in ev["design"]["validation"]
    assert ev["binning"] == "optimal"
    assert ev["scaling"] == {"base_score": 500, "base_odds": 20, "pdo": 40}
    assert ev["events"] > 0 and ev["train_events"] > 0
    assert set(ev["baseline_auc"]) == {"days_past_due", "credit_utilisation", "oracle"}
    assert ev["baseline_auc"]["oracle"] > 0.6 and 0.5 < ev["auc"] <= 1.0
    assert ev["auc_interval"][0] <= ev["auc"] <= ev["auc_interval"][1]
    assert entry.features == tuple(f["feature"] for f in ev["selected"])
    assert all(f["iv"] >= 0.02 for f in ev["selected"])

    scored = score_credit(settings, as_of=LAST_DAY, warehouse=gb.warehouse, frames=gb.frames)
    s = scored.scores
    assert scored.version == entry.version and len(s) > 1000
    assert s["probability_of_default"].between(0, 1, inclusive="neither").all()
    assert (~s["has_credit"]).any() and s["has_credit"].any()  # scored with or without credit
    # points follow the configured scaling: 500 at 20:1, 40 points per doubling
    odds = (1 - s["probability_of_default"]) / s["probability_of_default"]
    expected = 500 + 40 / np.log(2) * np.log(odds / 20)
    np.testing.assert_allclose(s["credit_score"], expected, atol=0.051)
    assert set(s["band"]) <= {"very_low", "low", "medium", "high", "very_high"}
    pd_model = champion_pd_model(settings)
    assert pd_model is not None and pd_model.label == f"{CREDIT_SCORECARD} {entry.version}"

    env = {"NEXTBEST_WAREHOUSE_PATH": str(settings.warehouse_file),
           "NEXTBEST_MASTER_KEY_FILE": str(settings.key_file)}  # fmt: skip
    out = tmp_path / "scores.parquet"
    cli = run_cli(settings, "model", "scorecard", "score", "--as-of", LAST_DAY.isoformat(),
                  "--out", str(out), "--json", **env)  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["rows"] == len(s) and out.is_file()
    exported = run_cli(settings, "model", "scorecard", "export", "--format", "json", **env)
    assert exported.returncode == 0, exported.stderr
    table = json.loads(exported.stdout)
    assert table["version"] == entry.version and table["rows"][0]["feature"] == "(base points)"
    assert {r["feature"] for r in table["rows"][1:]} == set(entry.features)
    csv = run_cli(settings, "model", "scorecard", "export", "--format", "csv", **env)
    assert csv.stdout.startswith("feature,bin,count,event_rate,woe,points\n")
    wrong = run_cli(settings, "model", "scorecard", "export", "--format", "xml", **env)
    assert wrong.returncode != 0 and "--format must be csv or json" in wrong.stderr + wrong.stdout
    wrong = run_cli(settings, "model", "scorecard", "train", "--binning", "quantile", **env)
    assert wrong.returncode != 0
    assert "--binning must be optimal or pav" in wrong.stderr + wrong.stdout
    assert model_registry(settings).champion_version(CREDIT_SCORECARD) == entry.version
    holdout = model_registry(settings).reports(CREDIT_SCORECARD)["holdout"]
    stored = json.loads(holdout.with_suffix(".json").read_text(encoding="utf-8"))
    assert stored["model"]["auc"] == pytest.approx(ev["auc"])
