"""The physical layout follows the canonical model and never stores a direct identifier."""

from __future__ import annotations

import ibis.expr.datatypes as dt
import pytest

from nextbest.domain.schema import SYSTEM_COLUMNS, TABLES
from nextbest.warehouse.layout import LAYOUT, WarehouseLayoutError, physical_table


def test_every_canonical_table_is_laid_out_with_system_columns() -> None:
    for canonical in TABLES:
        spec = physical_table(canonical.name)
        names = [c.name for c in spec.columns]
        assert names == [c.name for c in canonical.warehouse_columns] + list(SYSTEM_COLUMNS)
        assert spec.key == canonical.key


def test_no_stored_column_is_a_vault_field() -> None:
    for spec in LAYOUT:
        assert not {c.name for c in spec.columns} & spec.vault_fields, spec.name
    assert {"name", "mobile", "id_number", "email"} <= physical_table("customer").vault_fields


def test_types_follow_the_agreed_mapping() -> None:
    txn = physical_table("transaction").ibis_schema()
    assert txn["amount"] == dt.Decimal(18, 2)
    assert txn["txn_time"].is_timestamp() and txn["txn_time"].timezone is not None
    assert physical_table("customer").ibis_schema()["birth_date"] == dt.date
    assert physical_table("quarantine").ibis_schema()["row_number"] == dt.int64


def test_own_tables_have_the_agreed_columns() -> None:
    assert [c.name for c in physical_table("quarantine").columns] == [
        "source_file", "row_number", "target_table", "field", "rule", "outcome",
        "value_masked", "message", "batch_id", "loaded_at",
    ]  # fmt: skip
    assert [c.name for c in physical_table("dq_flag").columns] == [
        "source_file", "row_number", "target_table", "record_key", "field", "rule",
        "value_masked", "batch_id", "loaded_at",
    ]  # fmt: skip


def test_unknown_table_and_keyless_current_are_clear_errors() -> None:
    with pytest.raises(WarehouseLayoutError, match="no table 'nope'"):
        physical_table("nope")
    with pytest.raises(WarehouseLayoutError, match="has no key"):
        physical_table("quarantine").require_key()
