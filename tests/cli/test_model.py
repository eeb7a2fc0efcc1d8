import json
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from nextbest.cli.main import app

runner = CliRunner()


def _write(tmp_path: Path) -> Path:
    rng = np.random.default_rng(7)
    n = 600
    recency = rng.integers(1, 365, n)
    segment = rng.choice(["mass", "affluent"], n)
    logit = -2 + recency / 120 + (segment == "mass") * 0.8
    churn = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "recency": recency,
            "segment": segment,
            "call_minutes": np.where(churn, 9, 1) + rng.random(n),
            "churn": np.where(churn, "yes", "no"),
        }
    )
    path = tmp_path / "customers.csv"
    frame.to_csv(path, sep=";", index=False)
    return path


def test_train_json_report_and_model_then_score(tmp_path: Path) -> None:
    data = _write(tmp_path)
    result = runner.invoke(
        app,
        [
            "model",
            "train",
            "--data",
            str(data),
            "--target",
            "churn",
            "--exclude",
            "call_minutes",
            "--folds",
            "3",
            "--repeats",
            "1",
            "--seed",
            "5",
            "--json",
            "--report-html",
            str(tmp_path / "r.html"),
            "--out",
            str(tmp_path / "m"),
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["cross_validation"] == {"folds": 3, "repeats": 1, "seed": 5}
    assert out["features"] == ["recency", "segment"]
    assert {d["column"] for d in out["dropped"]} == {"call_minutes", "customer_id"}
    assert 0.6 < out["metrics"]["auc"]["mean"] < 0.95
    assert "best single feature (recency)" in out["baselines"]
    assert (tmp_path / "r.html").read_text(encoding="utf-8").count("<svg") == 5
    meta = json.loads((tmp_path / "m" / "metadata.json").read_text(encoding="utf-8"))
    assert meta["target"] == "churn" and meta["seed"] == 5 and len(meta["data_sha256"]) == 64
    assert meta["features"] == ["recency", "segment"]

    scored = runner.invoke(
        app,
        [
            "model",
            "score",
            "--model",
            str(tmp_path / "m"),
            "--data",
            str(data),
            "--out",
            str(tmp_path / "s.csv"),
            "--id",
            "customer_id",
            "--json",
        ],
    )
    assert scored.exit_code == 0, scored.output
    scores = pd.read_csv(tmp_path / "s.csv")
    assert list(scores.columns) == ["customer_id", "score"] and len(scores) == 600


def test_train_errors_name_the_column(tmp_path: Path) -> None:
    data = _write(tmp_path)
    result = runner.invoke(app, ["model", "train", "--data", str(data), "--target", "churned"])
    assert result.exit_code != 0
    assert "target column 'churned' not found" in str(result.exception)
    result = runner.invoke(
        app, ["model", "train", "--data", str(data), "--target", "segment", "--exclude", "nope"]
    )
    assert "nope" in str(result.exception)
