"""The warehouse contract suite runs once per backend; a new backend adds one param here."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from nextbest.config import Settings
from nextbest.warehouse import Warehouse, open_warehouse

BACKENDS = ["duckdb", "spark"]


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One local Spark session for the whole test session (JVM start-up costs seconds)."""
    from nextbest.warehouse.spark_session import SparkSettings, shared_session, stop_shared

    scratch = tmp_path_factory.mktemp("spark-scratch")
    yield shared_session(SparkSettings(scratch=scratch), "Asia/Shanghai")
    stop_shared()


@pytest.fixture(params=BACKENDS)
def backend_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """Settings of a fresh installation using the parametrised warehouse backend."""
    if request.param == "spark":
        request.getfixturevalue("spark_session")
    return settings.model_copy(update={"warehouse_backend": request.param})


@pytest.fixture
def open_wh(backend_settings: Settings) -> Iterator[Callable[..., Warehouse]]:
    """Open (and afterwards close) warehouses of the installation under test."""
    opened: list[Warehouse] = []

    def _open(read_only: bool = False) -> Warehouse:
        wh = open_warehouse(backend_settings, read_only=read_only)
        opened.append(wh)
        return wh

    yield _open
    for wh in opened:
        wh.close()


@pytest.fixture
def wh(open_wh: Callable[..., Warehouse]) -> Warehouse:
    """A writable warehouse with its schema created."""
    return open_wh()
