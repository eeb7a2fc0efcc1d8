"""Bring an incoming Arrow table into a table's stored shape, or say precisely why not.

Pure Arrow, shared by every backend: column checks (unknown, duplicated, system, direct
identifier, missing required), null checks on required columns and casts to the stored types.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nextbest.errors import NextbestError
from nextbest.warehouse.layout import PhysicalColumn, PhysicalTable

__all__ = ["VaultColumnError", "WarehouseDataError", "conform", "hex_to_letters"]


class WarehouseDataError(NextbestError):
    """Rows handed to the warehouse do not fit the table they are appended to."""


class VaultColumnError(WarehouseDataError):
    """A direct identifier was handed to the warehouse, which must never store one."""


def conform(spec: PhysicalTable, data: pa.Table, timezone: str) -> pa.Table:
    """Return ``data`` with exactly ``spec``'s business columns, in order, in stored types.

    Missing optional columns become nulls. Naive timestamps are read in ``timezone`` (the
    bank's), then stored as instants.

    Raises
    ------
    VaultColumnError
        A column is a direct identifier (``stored_in="vault"`` in the canonical model).
    WarehouseDataError
        Unknown, duplicated or system columns, a missing required column, a null in a
        required column, or values that cannot be cast to the stored type.
    """
    names = data.column_names
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise WarehouseDataError(f"table {spec.name!r}: column {name!r} appears twice")
        seen.add(name)
    vault = [n for n in names if n in spec.vault_fields]
    if vault:
        raise VaultColumnError(
            f"table {spec.name!r}: column(s) {', '.join(map(repr, vault))} hold direct "
            "identifiers (stored_in='vault'); the warehouse never stores them. Put the value "
            "in the PII vault and append the masked form (e.g. "
            f"{vault[0] + '_masked'!r}) instead"
        )
    system = {c.name for c in spec.system_columns}
    given_system = [n for n in names if n in system]
    if given_system:
        raise WarehouseDataError(
            f"table {spec.name!r}: column(s) {given_system} are system columns filled by the "
            "batch writer; leave them out"
        )
    business = set(spec.business_names)
    unknown = [n for n in names if n not in business]
    if unknown:
        raise WarehouseDataError(
            f"table {spec.name!r}: unknown column(s) {unknown}; expected a subset of "
            f"{list(spec.business_names)}"
        )
    n_rows = data.num_rows
    arrays: list[pa.Array | pa.ChunkedArray] = []
    for column in spec.business_columns:
        if column.name not in seen:
            if column.required:
                raise WarehouseDataError(
                    f"table {spec.name!r}: required column {column.name!r} is missing"
                )
            arrays.append(pa.nulls(n_rows, column.arrow_type))
            continue
        values = _cast(spec, column, data.column(column.name), timezone)
        if column.required and values.null_count:
            first = pc.index(pc.is_null(values), True).as_py()
            raise WarehouseDataError(
                f"table {spec.name!r}, row {first}, field {column.name!r}: "
                "a required value is empty"
            )
        arrays.append(values)
    schema = spec.arrow_schema(business_only=True)
    return pa.Table.from_arrays(arrays, schema=schema)


def _cast(
    spec: PhysicalTable,
    column: PhysicalColumn,
    values: pa.ChunkedArray,
    timezone: str,
) -> pa.ChunkedArray:
    target = column.arrow_type
    if values.type == target:
        return values
    try:
        naive = pa.types.is_timestamp(values.type) and values.type.tz is None
        if pa.types.is_timestamp(target) and naive:
            # A naive time from a bank file is wall-clock time in the bank's zone.
            values = pc.assume_timezone(
                values, timezone, ambiguous="earliest", nonexistent="earliest"
            )
        cast = values.cast(target)
        if pa.types.is_decimal(target) and pa.types.is_floating(values.type):
            # Arrow rounds floats to the scale silently; a lost cent must be an error.
            back = cast.cast(pa.float64())
            lost = pc.invert(pc.fill_null(pc.equal(back, values.cast(pa.float64())), True))
            if pc.any(lost).as_py():
                row = pc.index(lost, True).as_py()
                raise pa.ArrowInvalid(
                    f"row {row}: {values[row].as_py()!r} has more than {target.scale} decimals"
                )
        return cast
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise WarehouseDataError(
            f"table {spec.name!r}, field {column.name!r}: cannot store {values.type} values "
            f"as {column.dtype} ({target}): {exc}"
        ) from exc


_HEX_TO_LETTERS = np.arange(256, dtype=np.uint8)
_HEX_TO_LETTERS[ord("0") : ord("9") + 1] = np.frombuffer(b"ghijklmnop", dtype=np.uint8)


def hex_to_letters(hashes: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Map the digits of hex digests to ``g``…``p`` (``a``…``f`` stay), in bulk.

    Row hashes are stored letters-only so that a scan for digit runs (phone or ID numbers)
    can never match one. The mapping is a bijection, so no information is lost.
    """
    if isinstance(hashes, pa.ChunkedArray):
        hashes = hashes.combine_chunks()
    strings = hashes.cast(pa.string())
    if strings.null_count:
        raise WarehouseDataError("row hash: a digest is null")
    n = len(strings)
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32)[
        strings.offset : strings.offset + n + 1
    ]
    if n == 0:
        return pa.array([], pa.string())
    data = np.frombuffer(strings.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    mapped = _HEX_TO_LETTERS[data]
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets - offsets[0]), pa.py_buffer(mapped.tobytes())
    )
