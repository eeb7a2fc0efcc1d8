import json
import subprocess
import sys
from pathlib import Path

import pandas as pd


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nextbest.cli", *args], capture_output=True, text=True, check=False
    )


def test_generate_and_respond_commands(tmp_path: Path) -> None:
    out = tmp_path / "bank"
    result = run_cli(
        "generate", "--customers", "300", "--months", "6", "--seed", "2", "--out", str(out),
        "--faults", "0.02", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["customers"] == 300
    assert summary["rows"]["KHXX"] >= 300
    assert summary["peak_rss_mb"] > 0 and summary["seconds"] > 0
    assert (out / "export" / "JYLS_0001.parquet").exists()
    assert (out / "truth" / "customers_0001.parquet").exists()
    assert (out / "faults.parquet").exists()

    ids = pd.read_parquet(out / "truth" / "customers_0001.parquet")["KHH"].head(50)
    contacts = tmp_path / "contacts.csv"
    pd.DataFrame(
        {
            "customer_id": ids,
            "channel": "sms",
            "offer": "WM301",
            "treated": [i % 2 == 0 for i in range(50)],
        }
    ).to_csv(contacts, index=False)
    responses = tmp_path / "responses.parquet"
    result = run_cli(
        "respond", str(contacts), "--bank", str(out), "--out", str(responses), "--json"
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert sum(r["contacts"] for r in rows) == 50
    assert len(pd.read_parquet(responses)) == 50


def test_generate_refuses_a_bad_format(tmp_path: Path) -> None:
    result = run_cli("generate", "--customers", "10", "--format", "xml", "--out", str(tmp_path))
    assert result.returncode == 2
    assert "format" in result.stderr
