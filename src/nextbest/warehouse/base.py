"""The warehouse interface: append-only, versioned, batch-atomic analytical storage.

Every backend (DuckDB now, Spark later) implements :class:`Warehouse` and
:class:`BatchWriter`. Everything a caller *reads* is an Ibis expression (``ibis.Table``), so
feature, segment and report logic is written once and compiled to whichever engine holds
the data. Backend code is limited to what Ibis cannot express portably: table DDL, the
atomic batch commit, row hashing and publication of a read-only copy.

Callers ask a backend what it can do through :attr:`Warehouse.capabilities` rather than
checking its class.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType

import ibis
import pyarrow as pa

from nextbest.warehouse.layout import (
    LAYOUT,
    PhysicalTable,
    hashed_table,
    key_index,
    physical_table,
)

__all__ = ["BatchWriter", "Capabilities", "Warehouse", "newest_versions"]


def newest_versions(
    table: ibis.Table,
    spec: PhysicalTable,
    where: Callable[[ibis.Table], ibis.Value] | None = None,
    index: ibis.Table | None = None,
) -> ibis.Table:
    """The newest stored version of each key of ``table`` (all stored rows of ``spec``).

    Newest means the latest load time; ties (two batches loaded in the same instant) go to
    the greater batch id. ``where`` restricts the rows first and may use only the key and
    system columns (e.g. a load cut-off).

    Most keys have one version, so only keys stored more than once are ranked: ranking
    every row (a window over the whole table) sorts all of it and spills at tens of
    millions of rows. Those keys come from the table's key index (``index``, rows of
    :func:`~nextbest.warehouse.layout.key_index`, filtered by ``where`` too) or, without one,
    from counting every key. The result is the rows of every other key (an anti-join on the
    key, which reads no system column but the load time) plus the newest versions of the
    repeated keys, read by a semi-join on key, batch, load time and row hash that an engine
    skips altogether when there are none. Each part starts from the table itself, so the
    query never materialises the full rows twice. Ties in batch and load time (a key stored
    twice by one batch) go to the greater row hash, so the choice is deterministic.
    """
    key = list(spec.require_key())
    version = [spec.batch_column, spec.loaded_at_column]
    if spec.hash_column is not None:
        version.append(spec.hash_column)

    def rows(*columns: str, of: ibis.Table = table) -> ibis.Table:
        r = of.select(*columns) if columns else of
        return r.filter(where(r)) if where is not None else r

    if index is not None:
        repeated = rows(*key, spec.batch_column, spec.loaded_at_column, of=index)
        repeated = repeated.select(*key).distinct()
    else:
        repeated = _stored_more_than_once(rows(*key, spec.loaded_at_column), key)
    candidates = rows(*key, *version).semi_join(repeated, key)
    rank = ibis.row_number().over(
        group_by=[candidates[k] for k in key],
        order_by=[candidates[c].desc() for c in (version[1], version[0], *version[2:])],
    )
    newest = candidates.mutate(_rank=rank).filter(ibis._._rank == 0).select(*key, *version)
    single = rows().anti_join(repeated, key)
    return single.union(table.semi_join(newest, [*key, *version]))


def _stored_more_than_once(rows: ibis.Table, key: list[str]) -> ibis.Table:
    """The keys occurring more than once among ``rows`` (returned as the key columns)."""
    counted = rows.group_by(key).aggregate(_versions=ibis._.count())
    return counted.filter(counted._versions > 1).select(*key)


@dataclass(frozen=True)
class Capabilities:
    """What a warehouse backend supports; ask this instead of ``isinstance``.

    Attributes
    ----------
    atomic_batches:
        A batch is committed by the storage engine as one transaction: a crash or an
        exception inside ``batch()`` leaves nothing behind, so ``discard_batch`` is only a
        safety net. When false the backend stages rows and callers must run
        ``discard_batch`` for unfinished batches during recovery.
    concurrent_readers:
        Other processes may open the live warehouse while a writer has it open. False for
        DuckDB (one process holds the file lock): serving processes read published copies.
    publication:
        ``publish()`` produces a read-only, versioned copy for serving processes.
    read_only:
        This handle was opened read-only; ``batch``, ``create_schema`` and ``publish``
        raise.
    """

    atomic_batches: bool
    concurrent_readers: bool
    publication: bool
    read_only: bool = False


class BatchWriter(abc.ABC):
    """Appends rows for one batch; obtained only from :meth:`Warehouse.batch`.

    Rows appended through a writer become visible to other readers all at once when the
    ``batch`` context exits normally, and never if it exits with an exception or the
    process dies.
    """

    batch_id: str

    @abc.abstractmethod
    def append(self, table_name: str, data: pa.Table, *, hashes: pa.Array | None = None) -> int:
        """Stage ``data`` as new rows of ``table_name`` in this batch.

        Parameters
        ----------
        table_name:
            A canonical table (``nextbest.domain.schema.TABLES``) or one of nextbest's own
            tables (``quarantine``, ``dq_flag``).
        data:
            Columns named as the table's business columns (its warehouse columns without
            the system columns). Missing optional columns are filled with nulls; values are
            cast to the stored types (naive timestamps are read in the warehouse's time
            zone). The writer adds the batch id, the load time and, for canonical tables,
            ``_row_hash``.
        hashes:
            The values :meth:`row_hashes` returned for ``data`` (same rows, same order), so
            a caller that already computed them for :meth:`known_hashes` does not pay for
            the hash twice; computed here when ``None``.

        Returns
        -------
        int
            Number of rows appended.

        Raises
        ------
        nextbest.errors.NextbestError
            Unknown table or column, a missing required column, a value that cannot be
            cast, or a column holding a direct identifier (``stored_in="vault"``), which the
            warehouse never stores.
        """

    @abc.abstractmethod
    def row_hashes(self, table_name: str, data: pa.Table) -> pa.Array:
        """The ``_row_hash`` values :meth:`append` would store for ``data``, in row order.

        Hashes cover the business columns only (not batch id or load time), so the same
        record loaded twice has the same hash. They are lowercase letters only (no digits),
        so identifier scans for digit runs never match them.
        """

    @abc.abstractmethod
    def known_hashes(self, table_name: str, hashes: pa.Array) -> pa.BooleanArray:
        """True where a row with that hash is already stored or staged earlier in this batch.

        Computed as one bulk join, linear in ``len(hashes)`` plus the table size.
        """


class Warehouse(abc.ABC):
    """Analytical storage of bank-sourced history and read copies, as Ibis tables.

    A warehouse is append-only: corrections arrive as new versions in a later batch and
    :meth:`current` keeps the newest version per key. Use it as a context manager or call
    :meth:`close`.
    """

    #: Backend name as used in ``Settings.warehouse_backend``.
    name: str
    capabilities: Capabilities
    #: Whether the key indexes (:func:`~nextbest.warehouse.layout.key_index`) hold every
    #: repeated key. False for a store written before they existed and not rebuilt since;
    #: reads then count every key instead.
    keys_indexed: bool = False

    # --- lifecycle -------------------------------------------------------------------------
    @abc.abstractmethod
    def create_schema(self) -> None:
        """Create every table of ``layout.LAYOUT`` that does not exist yet (idempotent)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection (and the file lock, for embedded backends)."""

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- writing ---------------------------------------------------------------------------
    @abc.abstractmethod
    def batch(
        self, batch_id: str, *, loaded_at: datetime | None = None
    ) -> AbstractContextManager[BatchWriter]:
        """Open batch ``batch_id``: all appends inside commit together at exit, or not at all.

        Parameters
        ----------
        batch_id:
            Identifier written to every row of the batch; ties in :meth:`current` go to the
            greater id, so ids should sort by time (e.g. ``20241123T101500-<suffix>``).
        loaded_at:
            The batch's load time stamped on every row; now (UTC) by default. Given only
            when replaying history or in tests.

        Raises
        ------
        nextbest.errors.NextbestError
            If a batch is already open on this handle, the id was committed before, or the
            handle is read-only.
        """

    @abc.abstractmethod
    def has_batch(self, batch_id: str) -> bool:
        """Whether any committed row in any table carries ``batch_id``."""

    @abc.abstractmethod
    def discard_batch(self, batch_id: str) -> int:
        """Delete every row of ``batch_id`` (recovery only); returns the number deleted."""

    # --- reading ---------------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def backend(self) -> ibis.BaseBackend:
        """The Ibis backend the expressions of this warehouse are bound to."""

    def table(self, name: str) -> ibis.Table:
        """All stored versions of table ``name``, system columns included."""
        return self.backend.table(physical_table(name).name)

    def current(self, name: str) -> ibis.Table:
        """The newest version of each key of table ``name``.

        Newest means the latest ``_loaded_at``; ties (two batches loaded in the same
        instant) go to the greater ``_batch_id``. The result is a lazy Ibis expression.

        Raises
        ------
        nextbest.errors.NextbestError
            If the table has no key (``quarantine``, ``dq_flag``).
        """
        return newest_versions(self.table(name), physical_table(name), index=self.key_index(name))

    def key_index(self, name: str) -> ibis.Table | None:
        """The stored key index of table ``name`` (keys stored more than once, with the
        batch and load time of each further version), or ``None`` when the table has none
        or the indexes are incomplete (:attr:`keys_indexed`)."""
        index = key_index(physical_table(name))
        if index is None or not self.keys_indexed:
            return None
        return self.table(index.name)

    def index_repeated_keys(self, writer: BatchWriter, tables: Iterable[str]) -> int:
        """Append to the key indexes the keys that batch ``writer`` stored again.

        Backends call this last inside each batch, for the tables it appended to: a key is
        recorded when the batch holds it twice or it was stored before. Returns the number
        of index rows appended (none while the indexes are incomplete: ``create_schema``
        rebuilds them).
        """
        if not self.keys_indexed:
            return 0
        added = 0
        for name in sorted(set(tables)):
            spec = physical_table(name)
            index = key_index(spec)
            if index is None:
                continue
            key = list(spec.key)
            t = self.table(name)
            ours = t.filter(t[spec.batch_column] == writer.batch_id).select(*key)
            repeated = _stored_more_than_once(t.select(*key).semi_join(ours, key), key)
            added += writer.append(index.name, self.to_arrow(repeated))
        return added

    def to_arrow(self, expr: ibis.Table) -> pa.Table:
        """Execute ``expr`` on this warehouse and return the result as an Arrow table."""
        return self.backend.to_pyarrow(expr)

    def row_counts(self) -> dict[str, int]:
        """Number of stored rows (all versions) of every table, by table name."""
        counts = {}
        for spec in LAYOUT:
            counts[spec.name] = int(self.backend.to_pyarrow(self.table(spec.name).count()).as_py())
        return counts

    def keys_present(self, table: str, column: str, values: pa.Array) -> pa.BooleanArray:
        """True where ``values[i]`` occurs in ``column`` of any stored row of ``table``.

        For referential-integrity checks; one bulk semi-join, not a query per value. Rows
        appended earlier in an open batch on this handle count as stored.
        """
        return self._present_in(table, column, values)

    def _present_in(self, table: str, column: str, values: pa.Array) -> pa.BooleanArray:
        """Membership of ``values`` in ``column`` of ``table``; backends may do it natively."""
        return _present(self, self.table(table)[column], values)

    def _release_memtable(self, memtable: ibis.Table) -> None:
        """Free an in-memory table once its query has run.

        Ibis keeps memtables registered until the interpreter exits; an ingestion that
        probes millions of hashes chunk by chunk would otherwise hold every chunk. Backends
        that register memtables override this.
        """
        return None  # nothing registered by default

    # --- publication -----------------------------------------------------------------------
    @abc.abstractmethod
    def publish(self) -> Path:
        """Write a versioned read-only copy for serving processes and make it current.

        The pointer to the current copy is switched atomically after the copy is complete,
        so readers see either the previous copy or the new one, never a partial one.

        Returns
        -------
        Path
            The new published copy.
        """


def known_row_hashes(wh: Warehouse, table_name: str, hashes: pa.Array) -> pa.BooleanArray:
    """Which ``hashes`` the table holds, as the writer's session sees it (staged rows included)."""
    spec = hashed_table(table_name)
    return wh._present_in(spec.name, spec.hash_column, hashes)  # type: ignore[arg-type]


def _present(wh: Warehouse, stored: ibis.Column, values: pa.Array) -> pa.BooleanArray:
    """Membership of ``values`` in ``stored`` by one semi-join against an Arrow memtable."""
    import numpy as np

    n = len(values)
    if n == 0:
        return pa.array([], type=pa.bool_())
    probe = ibis.memtable(
        pa.table({"_pos": pa.array(np.arange(n, dtype=np.int64)), "_value": values})
    )
    hits = probe.filter(probe._value.isin(stored)).select("_pos")
    try:
        positions = wh.backend.to_pyarrow(hits).column("_pos").to_numpy()
    finally:
        wh._release_memtable(probe)
    mask = np.zeros(n, dtype=bool)
    mask[positions] = True
    return pa.array(mask, type=pa.bool_())
