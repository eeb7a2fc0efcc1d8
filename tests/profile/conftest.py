"""Fixtures: the hand-built bank in a DuckDB warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nextbest.warehouse.duckdb import DuckDBWarehouse
from tests.profile.bank import open_bank


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    wh = open_bank(tmp_path)
    yield wh
    wh.close()
