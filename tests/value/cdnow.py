"""Loaders for the CDNOW files in the shared data folder (see its README.md)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

CALIBRATION_END = "1997-09-30"


def sample_transactions(shared_dir: Path) -> pd.DataFrame:
    return pd.read_csv(
        shared_dir / "datasets" / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer", "date", "cds", "dollars"],
    )


def published_summary(shared_dir: Path) -> pd.DataFrame:
    return pd.read_csv(shared_dir / "datasets" / "cdnow_customers_summary.csv", index_col="ID")


def published_summary_with_spend(shared_dir: Path) -> pd.DataFrame:
    return pd.read_csv(
        shared_dir / "datasets" / "cdnow_customers_summary_with_transactions.csv", index_col="ID"
    )
