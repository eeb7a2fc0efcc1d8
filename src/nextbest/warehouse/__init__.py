"""Analytical storage: an interface (``base``), its layout and its backends."""

from __future__ import annotations

from nextbest.warehouse.base import BatchWriter, Capabilities, Warehouse
from nextbest.warehouse.layout import LAYOUT, PhysicalTable, WarehouseLayoutError, physical_table

__all__ = [
    "LAYOUT",
    "BatchWriter",
    "Capabilities",
    "PhysicalTable",
    "Warehouse",
    "WarehouseLayoutError",
    "physical_table",
]
