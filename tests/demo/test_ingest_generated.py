"""The shipped mapping ingests a generated bank and ingestion finds the injected faults."""

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from nextbest.config import Settings
from nextbest.demo.world import generate
from nextbest.services.ingestion import ingest
from nextbest.services.stores import init_installation


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_faults_are_detected_with_their_rule_and_clean_rows_pass(
    tmp_path: Path, settings: Settings, file_format: str
) -> None:
    bank = generate(tmp_path / "bank", 600, 3, seed=8, faults=0.08, fmt=file_format).out  # type: ignore[arg-type]
    init_installation(settings)
    report = ingest(settings, bank / "export", bank / "mapping.yaml")
    assert report.status == "committed"

    manifest = pd.read_parquet(bank / "faults.parquet")
    with duckdb.connect(str(settings.warehouse_file), read_only=True) as con:
        found = pd.concat(
            [
                con.sql(f"select source_file, row_number, rule from {t}").df()
                for t in ("quarantine", "dq_flag")
            ]
        ).rename(columns={"source_file": "file", "row_number": "source_row"})
    # warehouse-side faults: found at their file and row with the expected rule
    checked = manifest[manifest["expected_rule"] != "near_duplicate"]
    joined = checked.merge(found, on=["file", "source_row"], how="left")
    assert (joined["rule"] == joined["expected_rule"]).all(), joined[joined["rule"].isna()]
    # nothing else is flagged or rejected: clean rows pass
    extra = found.merge(manifest, on=["file", "source_row"], how="left", indicator=True)
    assert (extra["_merge"] == "both").all(), extra[extra["_merge"] != "both"]
    # duplicates go to the match-candidate queue, and only they do
    duplicates = manifest["expected_rule"].eq("near_duplicate").sum()
    assert duplicates > 0
    assert report.totals.queued == duplicates
