"""Choose the warehouse backend from settings (``Settings.warehouse_backend``)."""

from __future__ import annotations

from nextbest.config import Settings
from nextbest.errors import NextbestError
from nextbest.warehouse.base import Warehouse
from nextbest.warehouse.publication import PublicationError, latest_published

__all__ = ["BackendUnavailableError", "open_published", "open_warehouse"]


class BackendUnavailableError(NextbestError):
    """The configured warehouse backend is not available in this installation."""


def open_warehouse(settings: Settings, read_only: bool = False) -> Warehouse:
    """Open the live warehouse of an installation.

    A writable handle has its schema created (idempotent). Only one process may hold a
    writable DuckDB warehouse; serving processes use :func:`open_published` instead.

    Raises
    ------
    BackendUnavailableError
        For a backend that is not (yet) available, such as ``spark``.
    """
    backend = settings.warehouse_backend
    if backend == "duckdb":
        from nextbest.warehouse.duckdb import DuckDBWarehouse

        warehouse = DuckDBWarehouse(
            settings.warehouse_file,
            settings.timezone,
            read_only=read_only,
            published_dir=settings.published_dir,
        )
        if not read_only:
            warehouse.create_schema()
        return warehouse
    if backend == "spark":
        from nextbest.warehouse.spark_session import require_spark

        require_spark()  # before importing the backend, which imports pyspark
        from nextbest.warehouse.spark import open_spark_warehouse

        return open_spark_warehouse(settings, read_only=read_only)
    raise BackendUnavailableError(
        f"warehouse_backend={backend!r} is not installed or not yet available in this "
        "version of nextbest; set NEXTBEST_WAREHOUSE_BACKEND=duckdb"
    )


def open_published(settings: Settings) -> Warehouse:
    """Open the current published copy read-only (what serving processes read).

    Raises
    ------
    PublicationError
        Nothing has been published yet.
    """
    path = latest_published(settings)
    if path is None:
        raise PublicationError(
            f"{settings.published_dir}: nothing published yet; run `nextbest publish`"
        )
    if settings.warehouse_backend == "spark":
        from nextbest.warehouse.spark_publication import PublishedSnapshot

        return PublishedSnapshot(path, settings.timezone)
    if settings.warehouse_backend != "duckdb":
        raise BackendUnavailableError(
            f"warehouse_backend={settings.warehouse_backend!r} is not yet available"
        )
    from nextbest.warehouse.duckdb import DuckDBWarehouse

    return DuckDBWarehouse(path, settings.timezone, read_only=True)
