"""The embedded DuckDB warehouse: one file, one writing process, read-only published copies.

Backend-specific parts only: DDL, the batch transaction, the row hash in SQL and the file
copy for publication. Reads go through the Ibis expressions of :class:`Warehouse`.

A batch is one DuckDB transaction. Appends go straight into the real tables inside it, so
readers on this handle (``known_hashes``, ``keys_present``) see staged rows, and a crash
leaves nothing: DuckDB replays only committed transactions from its write-ahead log and
blocks written optimistically for a large uncommitted insert are never referenced.

Memory of a batch stays bounded however many rows it holds: Arrow data reaches SQL through
DuckDB's replacement scan of a local variable, never as a registered view (a view dropped
inside a transaction lives, with the Arrow table it holds, until the transaction ends), and
the batch runs under ``batch_memory_limit`` so the table blocks it has written (already on
disk) are evicted instead of accumulating in the buffer pool.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import ibis
import numpy as np
import pyarrow as pa
from ibis.backends.sql.datatypes import DuckDBType

from nextbest.errors import NextbestError
from nextbest.warehouse.base import BatchWriter, Capabilities, Warehouse, known_row_hashes
from nextbest.warehouse.conform import conform, hex_to_letters
from nextbest.warehouse.layout import (
    LAYOUT,
    PhysicalTable,
    hashed_table,
    key_index,
    physical_table,
)
from nextbest.warehouse.publication import install_version

__all__ = ["DuckDBWarehouse"]


class WarehouseStateError(NextbestError):
    """The warehouse handle cannot do this now (read-only, batch open, batch exists)."""


# The local variable of ``DuckDBWarehouse._execute_on`` that SQL reads Arrow data from.
_ARROW = "_nb_arrow_rows"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def hash_text_sql(spec: PhysicalTable) -> str:
    """SQL for the MD5 (hex) of a row's business columns.

    The row is rendered as a JSON array, which is unambiguous (strings are quoted and
    escaped, a null is ``null``, not the text "null") and cheap to build in bulk.
    Timestamps enter as epoch microseconds so the session time zone cannot change the hash.
    """
    values = ", ".join(
        f"epoch_us({_quote(c.name)})" if c.dtype == "timestamp" else _quote(c.name)
        for c in spec.business_columns
    )
    return f"md5(CAST(to_json(row({values})) AS VARCHAR))"


class _DuckDBBatchWriter(BatchWriter):
    def __init__(self, warehouse: DuckDBWarehouse, batch_id: str, loaded_at: datetime) -> None:
        self.batch_id = batch_id
        self.loaded_at = loaded_at
        self.tables: set[str] = set()  # appended to in this batch
        self._wh = warehouse
        self._open = True

    def _check_open(self) -> None:
        if not self._open:
            raise WarehouseStateError(f"batch {self.batch_id!r} is already closed")

    def append(self, table_name: str, data: pa.Table, *, hashes: pa.Array | None = None) -> int:
        self._check_open()
        spec = physical_table(table_name)
        rows = conform(spec, data, self._wh.timezone)
        if rows.num_rows == 0:
            return 0
        self.tables.add(spec.name)
        columns = [c.name for c in spec.business_columns]
        if spec.hash_column is not None:
            if hashes is None:
                hashes = self._wh._row_hashes(spec, rows)
            rows = rows.append_column(spec.hash_column, hashes)
            columns.append(spec.hash_column)
        select = [_quote(c) for c in columns] + ["$batch_id", "$loaded_at"]
        target = [*columns, spec.batch_column, spec.loaded_at_column]
        self._wh._execute_on(
            rows,
            f"INSERT INTO {_quote(spec.name)} ({', '.join(map(_quote, target))}) "
            f"SELECT {', '.join(select)} FROM {_ARROW}",
            {"batch_id": self.batch_id, "loaded_at": self.loaded_at},
        )
        return rows.num_rows

    def row_hashes(self, table_name: str, data: pa.Table) -> pa.Array:
        spec = hashed_table(table_name)
        rows = conform(spec, data, self._wh.timezone)
        return self._wh._row_hashes(spec, rows)

    def known_hashes(self, table_name: str, hashes: pa.Array) -> pa.BooleanArray:
        self._check_open()
        # Same transaction as the appends, so rows staged in this batch are included.
        return known_row_hashes(self._wh, table_name, hashes)


class DuckDBWarehouse(Warehouse):
    """A warehouse in one DuckDB file.

    Parameters
    ----------
    path:
        The database file (created with its folder if missing, unless ``read_only``).
    timezone:
        The bank's time zone, set on the session so that dates of timestamps, day
        truncation and rendering follow the bank's day boundaries.
    read_only:
        Open without the write lock (several processes may do this on a file no process
        is writing, such as a published copy).
    published_dir:
        Where :meth:`publish` writes versions; ``None`` disables publishing.
    keep_published:
        Versions kept after each publish.
    batch_memory_limit:
        DuckDB ``memory_limit`` while a batch is open (the previous limit is restored
        after it), so that a batch's written table blocks are evicted rather than kept;
        ``None`` leaves the limit alone.
    """

    name = "duckdb"

    def __init__(
        self,
        path: str | Path,
        timezone: str = "Asia/Shanghai",
        *,
        read_only: bool = False,
        published_dir: Path | None = None,
        keep_published: int = 3,
        batch_memory_limit: str | None = "1GB",
    ) -> None:
        ZoneInfo(timezone)  # unknown zones fail here, not inside SQL
        self.path = Path(path)
        self.timezone = timezone
        self.published_dir = published_dir
        self.keep_published = keep_published
        self.batch_memory_limit = batch_memory_limit
        self.capabilities = Capabilities(
            atomic_batches=True,
            concurrent_readers=False,
            publication=published_dir is not None,
            read_only=read_only,
        )
        if read_only and not self.path.exists():
            raise WarehouseStateError(f"{self.path}: no warehouse file to open read-only")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._ibis = ibis.duckdb.connect(self.path, read_only=read_only)
        except duckdb.IOException as exc:
            raise WarehouseStateError(
                f"{self.path}: cannot open the warehouse ({exc}); another process may be "
                "writing it — serving processes should read the published copy"
            ) from exc
        self._con: duckdb.DuckDBPyConnection = self._ibis.con
        # Ibis sets the session to UTC on connect; the bank's zone must be set after it.
        self._con.execute(f"SET TimeZone = '{timezone}'")
        self._batch: _DuckDBBatchWriter | None = None
        self._closed = False
        self.keys_indexed = self._missing_tables() == []

    # --- lifecycle -------------------------------------------------------------------------
    @property
    def backend(self) -> ibis.BaseBackend:
        return self._ibis

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._ibis.disconnect()

    def _require_writable(self, action: str) -> None:
        if self.capabilities.read_only:
            raise WarehouseStateError(f"{self.path}: opened read-only, cannot {action}")
        if self._batch is not None:
            raise WarehouseStateError(
                f"cannot {action} while batch {self._batch.batch_id!r} is open"
            )

    def _missing_tables(self) -> list[str]:
        found = self._con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
        present = {name for (name,) in found}
        return [spec.name for spec in LAYOUT if spec.name not in present]

    def create_schema(self) -> None:
        self._require_writable("create the schema")
        missing = set(self._missing_tables())
        self._con.execute("BEGIN TRANSACTION")
        try:
            for spec in LAYOUT:
                columns = ", ".join(
                    f"{_quote(c.name)} {DuckDBType.to_string(c.ibis_type)}"
                    + (" NOT NULL" if c.required else "")
                    for c in spec.columns
                )
                self._con.execute(f"CREATE TABLE IF NOT EXISTS {_quote(spec.name)} ({columns})")
            for spec in LAYOUT:
                index = key_index(spec)
                if index is not None and index.name in missing and spec.name not in missing:
                    self._build_key_index(spec, index)
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")
        self.keys_indexed = True

    def _build_key_index(self, spec: PhysicalTable, index: PhysicalTable) -> None:
        """Index the repeated keys of a table stored before key indexes existed: one row per
        stored version of each key stored more than once."""
        key = ", ".join(map(_quote, spec.key))
        system = f"{_quote(spec.batch_column)}, {_quote(spec.loaded_at_column)}"
        self._con.execute(
            f"INSERT INTO {_quote(index.name)} ({key}, {system}) "
            f"SELECT {key}, {system} FROM {_quote(spec.name)} SEMI JOIN "
            f"(SELECT {key} FROM {_quote(spec.name)} GROUP BY ALL HAVING count(*) > 1) "
            f"USING ({key})"
        )

    # --- writing ---------------------------------------------------------------------------
    @contextmanager
    def batch(self, batch_id: str, *, loaded_at: datetime | None = None) -> Iterator[BatchWriter]:
        self._require_writable(f"open batch {batch_id!r}")
        if not batch_id:
            raise WarehouseStateError("a batch needs a non-empty id")
        if loaded_at is not None and loaded_at.tzinfo is None:
            raise WarehouseStateError(f"batch {batch_id!r}: loaded_at must carry a time zone")
        if self.has_batch(batch_id):
            raise WarehouseStateError(f"batch {batch_id!r} is already committed")
        writer = _DuckDBBatchWriter(self, batch_id, loaded_at or datetime.now(UTC))
        previous_limit = None
        if self.batch_memory_limit is not None:
            (previous_limit,) = self._con.execute(  # type: ignore[misc]
                "SELECT current_setting('memory_limit')"
            ).fetchone()
            self._con.execute("SET memory_limit = $limit", {"limit": self.batch_memory_limit})
        self._con.execute("BEGIN TRANSACTION")
        self._batch = writer
        try:
            yield writer
            self.index_repeated_keys(writer, writer.tables)
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        else:
            self._con.execute("COMMIT")
        finally:
            writer._open = False
            self._batch = None
            if previous_limit is not None:
                self._con.execute("SET memory_limit = $limit", {"limit": previous_limit})

    def has_batch(self, batch_id: str) -> bool:
        union = " UNION ALL ".join(
            f"SELECT 1 FROM {_quote(s.name)} WHERE {_quote(s.batch_column)} = $id" for s in LAYOUT
        )
        found = self._con.execute(f"SELECT EXISTS ({union})", {"id": batch_id}).fetchone()
        return bool(found and found[0])

    def discard_batch(self, batch_id: str) -> int:
        self._require_writable(f"discard batch {batch_id!r}")
        deleted = 0
        self._con.execute("BEGIN TRANSACTION")
        try:
            for spec in LAYOUT:
                result = self._con.execute(
                    f"DELETE FROM {_quote(spec.name)} WHERE {_quote(spec.batch_column)} = $id",
                    {"id": batch_id},
                ).fetchone()
                deleted += int(result[0]) if result else 0
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")
        return deleted

    def _present_in(self, table: str, column: str, values: pa.Array) -> pa.BooleanArray:
        # The same semi-join as the Ibis default, without an Ibis memtable: memtables are
        # registered views, which a batch transaction would keep alive until it ends.
        n = len(values)
        if n == 0:
            return pa.array([], type=pa.bool_())
        probe = pa.table({"_pos": pa.array(np.arange(n, dtype=np.int64)), "_value": values})
        positions = (
            self._execute_on(
                probe,
                f"SELECT _pos FROM {_ARROW} WHERE _value IN "
                f"(SELECT {_quote(column)} FROM {_quote(physical_table(table).name)})",
            )
            .column("_pos")
            .to_numpy()
        )
        mask = np.zeros(n, dtype=bool)
        mask[positions] = True
        return pa.array(mask, type=pa.bool_())

    # --- helpers ---------------------------------------------------------------------------
    def _execute_on(
        self, data: pa.Table, sql: str, params: dict[str, object] | None = None
    ) -> pa.Table:
        """Run ``sql``, in which the name ``_ARROW`` reads ``data``; return its result.

        DuckDB's replacement scan finds ``data`` under that name among this frame's local
        variables; nothing enters the catalog, so nothing outlives the statement. Ibis turns
        replacement scans off for its connection, so they are on for this statement only.
        """
        _nb_arrow_rows = data  # read by name from the SQL
        self._con.execute("SET python_enable_replacements = true")
        try:
            return self._con.execute(sql, params).to_arrow_table()
        finally:
            self._con.execute("SET python_enable_replacements = false")

    def _row_hashes(self, spec: PhysicalTable, rows: pa.Table) -> pa.Array:
        # A projection keeps the input order (DuckDB's preserve_insertion_order default).
        result = self._execute_on(rows, f"SELECT {hash_text_sql(spec)} AS h FROM {_ARROW}")
        # Mapping digits to letters in SQL (translate/replace) costs more than the hash
        # itself; on the fixed-width hex bytes it is one array lookup.
        return hex_to_letters(result.column("h"))

    # --- publication -----------------------------------------------------------------------
    def publish(self) -> Path:
        self._require_writable("publish")
        if self.published_dir is None:
            raise WarehouseStateError("publishing needs a published_dir")

        def write_copy(target: Path) -> None:
            # After a checkpoint the file alone holds every committed row and nothing else
            # writes to it in this process until we return, so a byte copy is consistent.
            self._con.execute("CHECKPOINT")
            shutil.copyfile(self.path, target)

        return install_version(
            self.published_dir, write_copy, suffix=".duckdb", keep=self.keep_published
        )
