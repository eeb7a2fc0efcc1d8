"""The shipped mapping ingests a generated bank and ingestion finds the injected faults."""

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nextbest.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def test_faults_are_detected_with_their_rule_and_clean_rows_pass(tmp_path: Path) -> None:
    env = {**os.environ, "NEXTBEST_HOME": str(tmp_path / "home")}
    env.pop("NEXTBEST_MASTER_KEY", None)
    bank = tmp_path / "bank"
    gen = _cli(env, "generate", "--customers", "800", "--months", "3", "--seed", "8",
               "--faults", "0.08", "--out", str(bank), "--json")  # fmt: skip
    assert gen.returncode == 0, gen.stderr
    assert _cli(env, "init").returncode == 0
    mapping = str(bank / "mapping.yaml")
    run = _cli(env, "ingest", str(bank / "export"), "--mapping", mapping, "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["status"] == "committed"

    manifest = pd.read_parquet(bank / "faults.parquet")
    with duckdb.connect(str(tmp_path / "home" / "warehouse.duckdb"), read_only=True) as con:
        found = pd.concat(
            [
                con.sql(f"select source_file, row_number, rule from {t}").df()
                for t in ("quarantine", "dq_flag")
            ]
        ).rename(columns={"source_file": "file", "row_number": "source_row"})
    # warehouse-side faults: found at their file and row with the expected rule
    checked = manifest[~manifest["expected_rule"].isin(["near_duplicate", "encoding"])]
    joined = checked.merge(found, on=["file", "source_row"], how="left")
    assert (joined["rule"] == joined["expected_rule"]).all(), joined[joined["rule"].isna()]
    # nothing else is flagged or rejected: clean rows pass
    extra = found.merge(manifest, on=["file", "source_row"], how="left", indicator=True)
    assert (extra["_merge"] == "both").all(), extra[extra["_merge"] != "both"]
    # duplicates go to the match-candidate queue, and only they do
    duplicates = manifest["expected_rule"].eq("near_duplicate").sum()
    assert duplicates > 0
    assert report["totals"]["queued"] == duplicates
