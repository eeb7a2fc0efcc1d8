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


def test_ingested_consents_reach_the_operational_ledger(tmp_path: Path, settings: Settings) -> None:
    from sqlalchemy import func, select

    from nextbest.opstore.consents import ConsentLedger
    from nextbest.opstore.models import Consent
    from nextbest.services.stores import open_stores

    bank = generate(tmp_path / "bank", 300, 3, seed=5, faults=0.0, fmt="parquet").out  # type: ignore[arg-type]
    init_installation(settings)
    report = ingest(settings, bank / "export", bank / "mapping.yaml")
    with duckdb.connect(str(settings.warehouse_file), read_only=True) as con:
        (loaded,) = con.sql("select count(*) from consent").fetchone()  # type: ignore[misc]
        key, purpose, channel, status = con.sql(
            "select customer_key, purpose, channel, status from consent "
            "order by event_time desc, status desc limit 1"
        ).fetchone()  # type: ignore[misc]
    assert loaded > 0
    with open_stores(settings) as stores:
        with stores.opstore.session() as session:
            stored = session.scalar(
                select(func.count()).select_from(Consent).where(Consent.batch_id == report.batch_id)
            )
        assert stored == loaded
        state = ConsentLedger(stores.opstore).state(key, purpose, channel)
        assert state is not None and state.status == status
    # A re-run of the same files changes nothing in the ledger either.
    ingest(settings, bank / "export", bank / "mapping.yaml")
    with open_stores(settings) as stores, stores.opstore.session() as session:
        assert session.scalar(select(func.count()).select_from(Consent)) == loaded
