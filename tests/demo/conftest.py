"""A small generated bank shared by the demo tests (generated once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nextbest.demo.world import GenerationSummary, generate

GOLDEN_CUSTOMERS = 4000
GOLDEN_MONTHS = 24
GOLDEN_SEED = 11


@pytest.fixture(scope="session")
def golden_bank(tmp_path_factory: pytest.TempPathFactory) -> GenerationSummary:
    """4,000 customers x 24 months with the shipped world, no faults."""
    out = tmp_path_factory.mktemp("golden_bank")
    return generate(out, GOLDEN_CUSTOMERS, GOLDEN_MONTHS, seed=GOLDEN_SEED)


@pytest.fixture(scope="session")
def faulty_bank(tmp_path_factory: pytest.TempPathFactory) -> GenerationSummary:
    """1,500 customers x 12 months with 5% faults, as Parquet."""
    out = tmp_path_factory.mktemp("faulty_bank")
    return generate(out, 1500, 12, seed=5, faults=0.05)


def read_parts(folder: Path, stem: str):
    import pyarrow.dataset as ds

    files = sorted(folder.glob(f"{stem}_*.parquet"))
    return ds.dataset(files, format="parquet").to_table()
