import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from nextbest.cli.clv import register
from nextbest.value.errors import ValueInputError

CDNOW_ARGS = [
    "--sep", "whitespace", "--names", "master,customer,date,cds,dollars",
    "--customer-col", "customer", "--date-col", "date", "--value-col", "dollars",
    "--date-format", "%Y%m%d", "--calibration-end", "1997-09-30",
]  # fmt: skip


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_clv_fit_json_on_cdnow_through_the_real_command(shared_dir: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "predictions.csv"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "nextbest.cli",
            "clv",
            "fit",
            "--transactions",
            str(shared_dir / "datasets" / "CDNOW_sample.txt"),
            *CDNOW_ARGS,
            "--observation-end",
            "1998-06-30",
            "--predictions",
            str(out_file),
            "--top",
            "3",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["customers"], report["repeat_buyers"], report["transactions"]) == (
        2357, 946, 6919
    )  # fmt: skip
    bg, gg = report["bgnbd"], report["gamma_gamma"]
    for name, published in {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}.items():
        assert bg[name] == pytest.approx(published, rel=1e-2)
    assert bg["log_likelihood"] == pytest.approx(-9582.4, abs=0.5)
    for name, published in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert gg[name] == pytest.approx(published, rel=1e-2)
    assert [t["code"] for t in report["tiers"]] == ["top", "high", "medium", "mass"]
    assert sum(t["customers"] for t in report["tiers"]) == 2357
    assert len(report["top_customers"]) == 3
    assert report["top_customers"][0]["clv"] >= report["top_customers"][1]["clv"]
    holdout = report["holdout"]
    assert holdout["duration"] == pytest.approx(39.0)
    assert holdout["actual_purchases"] == 1882
    assert holdout["predicted_purchases"] == pytest.approx(1653.4, abs=0.5)
    predictions = pd.read_csv(out_file)
    assert len(predictions) == 2357
    assert {"customer", "probability_alive", "clv", "value_tier_zh"} <= set(predictions.columns)
    assert predictions["clv"].sum() == pytest.approx(report["total_clv"])


def _synthetic_log(n_customers: int = 300, seed: int = 3) -> pd.DataFrame:
    """Customers who buy at their own Poisson rate and may stop after each purchase."""
    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2024-01-01")
    for c in range(n_customers):
        day = float(rng.integers(0, 60))
        rate = rng.gamma(0.8, 1 / 20)  # purchases per day
        spend = rng.gamma(5.0, 8.0)
        dropout = rng.beta(1.0, 5.0)
        while day < 240:
            rows.append(
                (f"C{c:04d}", start + pd.Timedelta(days=int(day)), rng.gamma(5.0, spend / 5))
            )
            if rng.random() < dropout:
                break
            day += rng.exponential(1 / rate)
    return pd.DataFrame(rows, columns=["cid", "day", "amt"])


def test_clv_fit_table_output_and_issue_option_names(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    _synthetic_log().to_csv(path, index=False)
    result = CliRunner().invoke(
        _app(),
        [
            "clv",
            "fit",
            "--transactions",
            str(path),
            "--customer",
            "cid",
            "--date",
            "day",
            "--amount",
            "amt",
            "--calibration-end",
            "2024-06-30",
            "--time-unit",
            "days",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "BG/NBD" in result.output and "Gamma-Gamma" in result.output
    assert "大众客户" in result.output
    assert "warning" not in result.output


def test_clv_fit_names_a_missing_column(shared_dir: Path) -> None:
    args = ["clv", "fit", "--transactions", str(shared_dir / "datasets" / "CDNOW_sample.txt")]
    bad = list(CDNOW_ARGS)
    bad[bad.index("--value-col") + 1] = "amount"
    result = CliRunner().invoke(_app(), args + bad)
    assert isinstance(result.exception, ValueInputError)
    assert "missing required column(s) ['amount']" in str(result.exception)


def test_clv_fit_rejects_a_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _app(),
        [
            "clv",
            "fit",
            "--transactions",
            str(tmp_path / "none.csv"),
            "--customer",
            "c",
            "--date",
            "d",
            "--amount",
            "v",
            "--calibration-end",
            "2024-01-01",
        ],
    )
    assert isinstance(result.exception, ValueInputError)
    assert "none.csv: transaction file not found" in str(result.exception)
