"""Validation of canonical chunks: per-row problems, each with its rule and outcome.

Checks run on Arrow arrays (vectorised): required fields, ranges, enumerations, resident-ID
checksum and the other identity formats, tombstones, referential integrity (against rows
already stored or staged in this batch), duplicate keys within the batch and near-duplicate
customers (vault blind index). What the stores know is asked through :class:`Lookups`, so
this module stays free of storage code.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nextbest.domain import identity
from nextbest.domain.enums import IdType
from nextbest.domain.schema import Table
from nextbest.ingest.mapping import FileSpec, Mapping
from nextbest.ingest.problems import ChunkProblems
from nextbest.ingest.seen_keys import SeenKeys, key_digests
from nextbest.ingest.text_quality import mis_encoded

__all__ = ["BatchState", "Lookups", "MatchPair", "validate_chunk"]


class Lookups(Protocol):
    """What validation needs to know about the stores (implemented by the ingestion service)."""

    def keys_present(self, table: str, column: str, values: pa.Array) -> np.ndarray:
        """True where the value is stored (or staged earlier in this batch)."""
        ...

    def existing_matches(self, kind: str, values: Sequence[str]) -> dict[str, set[str]]:
        """Committed vault customers holding each value (blind index), by value."""
        ...

    def tombstoned(self, customer_keys: Iterable[str]) -> set[str]:
        """Customers erased from the vault."""
        ...


@dataclass(frozen=True)
class MatchPair:
    incoming_customer_key: str
    existing_customer_key: str
    matched_on: str


@dataclass
class BatchState:
    """What a batch has accepted so far (keys per table, identifiers per customer)."""

    keys: dict[str, SeenKeys] = field(default_factory=dict)  # digests of accepted keys
    identifiers: dict[str, dict[str, str]] = field(default_factory=dict)  # kind -> value -> key
    matches: list[MatchPair] = field(default_factory=list)
    # tables without any stored row when the batch began (set by the ingestion service)
    empty_tables: set[str] = field(default_factory=set)


def _mask(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _key_strings(data: pa.Table, table: Table) -> pa.Array:
    """The row keys as text (parts joined by U+001F); null where any part is null."""
    parts = [pc.cast(data.column(k), pa.string()).combine_chunks() for k in table.key]
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, "\x1f")


def validate_chunk(
    data: pa.Table,
    problems: ChunkProblems,
    spec: FileSpec,
    mapping: Mapping,
    lookups: Lookups,
    state: BatchState,
) -> None:
    """Add every validation problem of one canonical chunk to ``problems``.

    Updates ``state`` with the keys of the rows that will be stored and with match pairs
    of rows queued as near-duplicates. Rules and outcomes are those of docs/mapping.md;
    problems on key or required columns are always rejections, because such a row cannot
    be stored.
    """
    table = spec.table
    specs = spec.columns

    def outcome(rule: str, column: str) -> str:
        return mapping.outcome(rule, specs.get(column))

    for col in table.columns:
        if col.name not in data.column_names:
            continue
        values = data.column(col.name).combine_chunks()
        already = problems.failing(col.name)
        present = _mask(pc.is_valid(values))
        if col.required:
            problems.add(
                "required", col.name, outcome("required", col.name), ~present & ~already, None
            )
        if col.min_value is not None or col.max_value is not None:
            numeric = pc.cast(values, pa.float64())
            low = pc.less(numeric, col.min_value) if col.min_value is not None else None
            high = pc.greater(numeric, col.max_value) if col.max_value is not None else None
            out = _mask(low) if low is not None else np.zeros(len(values), bool)
            if high is not None:
                out |= _mask(high)
            problems.add("range", col.name, outcome("range", col.name), out & ~already, values)
        if col.enum is not None:
            allowed = pa.array([m.value for m in col.enum], pa.string())
            bad = present & ~_mask(pc.is_in(values, value_set=allowed)) & ~already
            problems.add("enum", col.name, outcome("enum", col.name), bad, values)
        elif col.dtype == "string" and pa.types.is_string(values.type):
            garbled = mis_encoded(values) & ~already
            problems.add("encoding", col.name, outcome("encoding", col.name), garbled, values)

    if table.name == "customer":
        _identity_checks(data, problems, outcome)

    if "customer_key" in data.column_names:
        keys = data.column("customer_key").combine_chunks()
        erased = lookups.tombstoned(k for k in keys.to_pylist() if k is not None)
        if erased:
            hit = _mask(pc.is_in(keys, value_set=pa.array(sorted(erased), pa.string())))
            problems.add("erased", "customer_key", "reject", hit, None)

    for col in table.columns:
        if col.references is None or col.name not in data.column_names:
            continue
        values = data.column(col.name).combine_chunks()
        candidates = _mask(pc.is_valid(values)) & ~problems.failing(col.name)
        if not candidates.any():
            continue
        found = lookups.keys_present(col.references.table, col.references.column, values)
        problems.add(
            "reference", col.name, outcome("reference", col.name), candidates & ~found, values
        )

    _force_reject(problems, table)
    _duplicates(data, problems, table, state)
    if table.name == "customer":
        _near_duplicates(data, problems, outcome, lookups, state)


def _force_reject(problems: ChunkProblems, table: Table) -> None:
    # A row without a usable key or required value cannot be stored (the warehouse refuses
    # nulls there), so those problems are rejections whatever the mapping says.
    hard = set(table.key) | {c.name for c in table.columns if c.required}
    problems.sets[:] = [
        s if s.field not in hard or s.outcome == "reject" else _as_reject(s) for s in problems.sets
    ]


def _as_reject(s):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    return replace(s, outcome="reject")


def _identity_checks(data: pa.Table, problems: ChunkProblems, outcome) -> None:  # type: ignore[no-untyped-def]
    names = data.column_names
    if "id_number" in names:
        ids = data.column("id_number").combine_chunks()
        id_type = (
            data.column("id_type").combine_chunks()
            if "id_type" in names
            else pa.nulls(len(ids), pa.string())
        )
        is_resident = _mask(pc.equal(id_type, IdType.RESIDENT_ID.value))
        is_passport = _mask(pc.equal(id_type, IdType.PASSPORT.value))
        present = _mask(pc.is_valid(ids))
        bad_resident = present & is_resident & ~_mask(identity.resident_ids_valid(ids))
        bad_passport = present & is_passport & ~_mask(identity.passports_valid(ids))
        problems.add(
            "resident_id", "id_number", outcome("resident_id", "id_number"), bad_resident, ids
        )
        problems.add("passport", "id_number", outcome("passport", "id_number"), bad_passport, ids)
    for name, rule, check in (
        ("mobile", "mobile", identity.mobiles_valid),
        ("email", "email", identity.emails_valid),
    ):
        if name in names:
            values = data.column(name).combine_chunks()
            bad = _mask(pc.is_valid(values)) & ~_mask(check(values))
            problems.add(rule, name, outcome(rule, name), bad, values)


def _duplicates(data: pa.Table, problems: ChunkProblems, table: Table, state: BatchState) -> None:
    # A row is a duplicate when an earlier row of the batch (this chunk or an earlier one)
    # that was not rejected had the same key. Vectorised: per distinct key of the chunk, its
    # first eligible row is kept unless an earlier chunk had the key; the set operations on
    # the distinct keys run in C, not per row.
    rejected = problems.outcomes().rejected
    # Earlier chunks are known by key digest (seen_keys), this chunk's keys exactly.
    seen = state.keys.setdefault(table.name, SeenKeys())
    keys = _key_strings(data, table)
    eligible = _mask(pc.is_valid(keys)) & ~rejected
    dupes = np.zeros(data.num_rows, dtype=bool)
    rows = np.flatnonzero(eligible)
    if rows.size:
        encoded = pc.dictionary_encode(keys.take(pa.array(rows, pa.int64())))
        codes = encoded.indices.to_numpy()
        digests = key_digests(encoded.dictionary)
        first = np.zeros(rows.size, dtype=bool)
        first[np.unique(codes, return_index=True)[1]] = True
        dupes[rows] = ~first
        known = seen.contains(digests)
        if known.any():
            dupes[rows[known[codes]]] = True
        seen.add(digests)
    problems.add("duplicate_key", table.key[0], "reject", dupes, data.column(table.key[0]))


def _near_duplicates(
    data: pa.Table,
    problems: ChunkProblems,
    outcome,  # type: ignore[no-untyped-def]
    lookups: Lookups,
    state: BatchState,
) -> None:
    stored = ~problems.outcomes().rejected
    keys = data.column("customer_key").to_pylist()
    hits = np.zeros(data.num_rows, dtype=bool)
    for kind in ("mobile", "id_number"):
        if kind not in data.column_names:
            continue
        values = data.column(kind).combine_chunks()
        usable = stored & _mask(pc.is_valid(values)) & ~problems.failing(kind)
        if kind == "mobile":
            values = identity.normalise_mobiles(values)
        else:
            values = pc.utf8_upper(pc.utf8_trim_whitespace(values))
        texts = values.to_pylist()
        wanted = sorted({texts[i] for i in np.flatnonzero(usable)})
        existing = lookups.existing_matches(kind, wanted) if wanted else {}
        in_batch = state.identifiers.setdefault(kind, {})
        for i in np.flatnonzero(usable):
            value, own = texts[i], keys[i]
            others = {k for k in existing.get(value, set()) if k != own}
            earlier = in_batch.get(value)
            if earlier is not None and earlier != own:
                others.add(earlier)
            if others:
                hits[i] = True
                if outcome("near_duplicate", kind) == "match":
                    state.matches.extend(MatchPair(own, o, kind) for o in sorted(others))
            in_batch.setdefault(value, own)
        problems.add("near_duplicate", kind, outcome("near_duplicate", kind), hits & usable, None)
        hits[:] = False
