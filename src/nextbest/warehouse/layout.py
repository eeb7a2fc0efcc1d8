"""Physical layout of the warehouse, derived from the canonical data model.

Each canonical table (``nextbest.domain.schema.TABLES``) is stored with its warehouse
columns (direct identifiers replaced by their masked form) plus the system columns
``_batch_id``, ``_loaded_at`` and ``_row_hash``. nextbest's own tables record data-quality
outcomes of ingestion: ``quarantine`` (rejected rows) and ``dq_flag`` (loaded but flagged).

Types are declared once as Ibis types, so every backend creates the same tables: decimals
are DECIMAL(18,2), timestamps are instants (TIMESTAMP WITH TIME ZONE), dates are DATE.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
import pyarrow as pa

from nextbest.decide.tables import DECISION_TABLES
from nextbest.domain.schema import (
    BATCH_ID,
    LOADED_AT,
    ROW_HASH,
    TABLES,
    VAULT_FIELDS,
    Column,
    DType,
    Table,
)
from nextbest.errors import NextbestError
from nextbest.profile.tables import DERIVED_TABLES, DerivedTable

__all__ = [
    "DQ_FLAG",
    "LAYOUT",
    "QUARANTINE",
    "PhysicalColumn",
    "PhysicalTable",
    "WarehouseLayoutError",
    "hashed_table",
    "ibis_type",
    "key_index",
    "physical_table",
]


class WarehouseLayoutError(NextbestError):
    """A table or column does not fit the warehouse layout."""


_IBIS_TYPES: dict[DType, dt.DataType] = {
    "string": dt.String(),
    "int": dt.Int64(),
    "float": dt.Float64(),
    "decimal": dt.Decimal(precision=18, scale=2),
    "date": dt.Date(),
    # An instant; the bank's time zone is applied by the session when rendering days.
    "timestamp": dt.Timestamp(timezone="UTC"),
    "bool": dt.Boolean(),
}


def ibis_type(dtype: DType, *, nullable: bool = True) -> dt.DataType:
    """The Ibis type a canonical ``dtype`` is stored as."""
    return _IBIS_TYPES[dtype].copy(nullable=nullable)


@dataclass(frozen=True)
class PhysicalColumn:
    """One stored column: name, canonical type and whether a value is required."""

    name: str
    dtype: DType
    required: bool = False

    @property
    def ibis_type(self) -> dt.DataType:
        return ibis_type(self.dtype)

    @property
    def arrow_type(self) -> pa.DataType:
        return self.ibis_type.to_pyarrow()


@dataclass(frozen=True)
class PhysicalTable:
    """How one table is stored.

    Attributes
    ----------
    name:
        Table name in the warehouse.
    business_columns:
        Columns the caller supplies to ``BatchWriter.append``, in stored order.
    key:
        Columns identifying one record across versions (empty for log tables).
    batch_column, loaded_at_column:
        System columns the writer fills with the batch id and the batch's load time.
    hash_column:
        System column holding the row hash over the business columns, or ``None``.
    vault_fields:
        Names that are direct identifiers (``stored_in="vault"``) and must never be appended.
    canonical:
        The canonical table this layout derives from, ``None`` for nextbest's own tables.
    """

    name: str
    business_columns: tuple[PhysicalColumn, ...]
    key: tuple[str, ...]
    batch_column: str
    loaded_at_column: str
    hash_column: str | None
    vault_fields: frozenset[str]
    canonical: Table | None = None

    @property
    def system_columns(self) -> tuple[PhysicalColumn, ...]:
        cols = [
            PhysicalColumn(self.batch_column, "string", required=True),
            PhysicalColumn(self.loaded_at_column, "timestamp", required=True),
        ]
        if self.hash_column is not None:
            cols.append(PhysicalColumn(self.hash_column, "string", required=True))
        return tuple(cols)

    @property
    def columns(self) -> tuple[PhysicalColumn, ...]:
        """All stored columns: business columns, then system columns."""
        return self.business_columns + self.system_columns

    @property
    def business_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.business_columns)

    def ibis_schema(self) -> ibis.Schema:
        return ibis.schema({c.name: c.ibis_type for c in self.columns})

    def arrow_schema(self, *, business_only: bool = False) -> pa.Schema:
        cols = self.business_columns if business_only else self.columns
        return pa.schema([pa.field(c.name, c.arrow_type) for c in cols])

    def require_key(self) -> tuple[str, ...]:
        if not self.key:
            raise WarehouseLayoutError(
                f"table {self.name!r} has no key, so it has no current version per key; "
                "read it with table() instead"
            )
        return self.key


def _from_canonical(table: Table) -> PhysicalTable:
    return PhysicalTable(
        name=table.name,
        business_columns=tuple(_physical(c) for c in table.warehouse_columns),
        key=table.key,
        batch_column=BATCH_ID,
        loaded_at_column=LOADED_AT,
        hash_column=ROW_HASH,
        # Vault fields of any table are refused everywhere: a column called ``mobile`` in
        # the transaction table would be just as much a leak.
        vault_fields=frozenset(c.name for c in table.vault_columns) | frozenset(VAULT_FIELDS),
        canonical=table,
    )


def _physical(column: Column) -> PhysicalColumn:
    return PhysicalColumn(column.name, column.dtype, column.required)


def _s(name: str, *, required: bool = False) -> PhysicalColumn:
    return PhysicalColumn(name, "string", required)


QUARANTINE = PhysicalTable(
    name="quarantine",
    business_columns=(
        _s("source_file", required=True),
        PhysicalColumn("row_number", "int", required=True),
        _s("target_table", required=True),
        _s("field"),
        _s("rule", required=True),
        _s("outcome", required=True),  # always 'reject'
        _s("value_masked"),
        _s("message", required=True),
    ),
    key=(),
    batch_column="batch_id",
    loaded_at_column="loaded_at",
    hash_column=None,
    vault_fields=frozenset(VAULT_FIELDS),
)

DQ_FLAG = PhysicalTable(
    name="dq_flag",
    business_columns=(
        _s("source_file", required=True),
        PhysicalColumn("row_number", "int", required=True),
        _s("target_table", required=True),
        _s("record_key"),
        _s("field"),
        _s("rule", required=True),
        _s("value_masked"),
    ),
    key=(),
    batch_column="batch_id",
    loaded_at_column="loaded_at",
    hash_column=None,
    vault_fields=frozenset(VAULT_FIELDS),
)


def _from_derived(table: DerivedTable) -> PhysicalTable:
    # Tables computed by customer understanding (nextbest.profile.tables): versioned by
    # batch like the canonical tables, without a row hash (they are never de-duplicated).
    return PhysicalTable(
        name=table.name,
        business_columns=tuple(PhysicalColumn(n, d, r) for n, d, r in table.columns),
        key=table.key,
        batch_column=BATCH_ID,
        loaded_at_column=LOADED_AT,
        hash_column=None,
        vault_fields=frozenset(VAULT_FIELDS),
    )


_DATA: tuple[PhysicalTable, ...] = (
    *(_from_canonical(t) for t in TABLES),
    QUARANTINE,
    DQ_FLAG,
    *(_from_derived(t) for t in DERIVED_TABLES),
    *(_from_derived(t) for t in DECISION_TABLES),
)

#: Suffix of the key index of a keyed table (:func:`key_index`).
KEY_INDEX_SUFFIX = "__repeated_keys"


def _key_index(spec: PhysicalTable) -> PhysicalTable:
    # Keys of ``spec`` stored more than once, one row per batch that stored another version.
    by_name = {c.name: c for c in spec.business_columns}
    return PhysicalTable(
        name=spec.name + KEY_INDEX_SUFFIX,
        business_columns=tuple(
            PhysicalColumn(k, by_name[k].dtype, required=True) for k in spec.key
        ),
        key=(),
        batch_column=spec.batch_column,
        loaded_at_column=spec.loaded_at_column,
        hash_column=None,
        vault_fields=spec.vault_fields,
    )


_INDEXES = {spec.name: _key_index(spec) for spec in _DATA if spec.key}

LAYOUT: tuple[PhysicalTable, ...] = (*_DATA, *_INDEXES.values())

_BY_NAME = {t.name: t for t in LAYOUT}


def key_index(spec: PhysicalTable) -> PhysicalTable | None:
    """The key index of ``spec``: where the warehouse records keys stored more than once.

    Whenever a batch stores a key that is already stored (or stores it twice), the
    writer appends the key to the index in the same batch, stamped with that batch's id and
    load time (:meth:`Warehouse.index_repeated_keys`). So every key with two versions
    loaded by some cut-off has an index row loaded by then, and reading the newest versions
    ranks only those keys instead of counting every key of the table. ``None`` for tables
    without a key (logs and the indexes themselves).
    """
    return _INDEXES.get(spec.name)


def hashed_table(name: str) -> PhysicalTable:
    """The stored layout of table ``name``, which must carry a row hash.

    Raises
    ------
    WarehouseLayoutError
        If the warehouse has no such table or the table has no row hash.
    """
    spec = physical_table(name)
    if spec.hash_column is None:
        raise WarehouseLayoutError(f"table {spec.name!r} has no row hash")
    return spec


def physical_table(name: str) -> PhysicalTable:
    """The stored layout of table ``name``.

    Raises
    ------
    WarehouseLayoutError
        If the warehouse has no such table.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise WarehouseLayoutError(
            f"the warehouse has no table {name!r}; known: {', '.join(sorted(_BY_NAME))}"
        ) from None
