"""Analytical storage: an interface (``base``), its layout, backends and publication."""

from __future__ import annotations

from nextbest.warehouse import publication
from nextbest.warehouse.base import BatchWriter, Capabilities, Warehouse
from nextbest.warehouse.conform import VaultColumnError, WarehouseDataError
from nextbest.warehouse.factory import BackendUnavailableError, open_published, open_warehouse
from nextbest.warehouse.layout import LAYOUT, PhysicalTable, WarehouseLayoutError, physical_table
from nextbest.warehouse.publication import PublicationError, gc, latest_published

__all__ = [
    "LAYOUT",
    "BackendUnavailableError",
    "BatchWriter",
    "Capabilities",
    "PhysicalTable",
    "PublicationError",
    "VaultColumnError",
    "Warehouse",
    "WarehouseDataError",
    "WarehouseLayoutError",
    "gc",
    "latest_published",
    "open_published",
    "open_warehouse",
    "physical_table",
    "publication",
]
