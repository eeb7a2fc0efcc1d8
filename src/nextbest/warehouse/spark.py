"""The warehouse on Apache Spark: same interface and the same Ibis expressions as DuckDB.

Only storage is Spark-specific. Every read and transformation is an Ibis expression that
Ibis compiles to Spark SQL, exactly as it compiles the same expression to DuckDB SQL, so there
is no second implementation of any transformation. Tables are temporary views over the
Parquet files the current manifest names (see :mod:`nextbest.warehouse.spark_storage`),
plus the files staged by a batch open on this handle.

Two details keep results identical to DuckDB:

* The session time zone is the bank's (``Settings.timezone``), so ``date()``, truncation and
  day boundaries agree. Ibis pins Spark to UTC because it converts results through pandas
  naive timestamps; this backend converts through Arrow instead (``DataFrame.toArrow``),
  which carries instants, so the pin is not needed.
* ``_row_hash`` is computed on the driver from the incoming Arrow batch with the very SQL the
  DuckDB backend uses (an in-process DuckDB over Arrow, no copy), so both backends store the
  same hash for the same row.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import ibis
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends.pyspark import Backend as PySparkBackend
from ibis.backends.pyspark.datatypes import PySparkSchema
from ibis.formats.pandas import PandasData
from ibis.formats.pyarrow import PyArrowData
from pyspark.sql.types import StructType, TimestampType

from nextbest.config import Settings
from nextbest.errors import NextbestError
from nextbest.warehouse.base import BatchWriter, Capabilities, Warehouse, known_row_hashes
from nextbest.warehouse.conform import conform, hex_to_letters
from nextbest.warehouse.duckdb import hash_text_sql
from nextbest.warehouse.layout import LAYOUT, PhysicalTable, hashed_table, physical_table
from nextbest.warehouse.spark_session import SparkSettings, child_session, spark_settings
from nextbest.warehouse.spark_storage import DataFile, Manifest, ManifestStore

__all__ = ["SparkWarehouse", "open_spark_warehouse", "row_hashes"]


class WarehouseStateError(NextbestError):
    """The warehouse handle cannot do this now (read-only, batch open, batch exists)."""


class _ArrowResultBackend(PySparkBackend):
    """Ibis's PySpark backend, returning results through Arrow so instants stay instants.

    The stock backend goes through ``toPandas`` (naive local times) and therefore needs the
    session in UTC; here the session runs in the bank's zone and results keep their zone.
    """

    def get_schema(
        self, table_name: str, *, catalog: str | None = None, database: str | None = None
    ) -> ibis.Schema:
        schema = super().get_schema(table_name, catalog=catalog, database=database)
        if catalog is None and database is None:
            return _with_instants(schema, self._session.table(table_name).schema)
        return schema

    def _get_schema_using_query(self, query: str) -> ibis.Schema:
        schema = super()._get_schema_using_query(query)
        return _with_instants(schema, self.raw_sql(query).schema)

    def to_pyarrow(
        self,
        expr: Any,
        /,
        *,
        params: Mapping[Any, Any] | None = None,
        limit: int | str | None = None,
        **kwargs: Any,
    ) -> pa.Table:
        self._run_pre_execute_hooks(expr)
        table_expr = expr.as_table()
        sql = self.compile(table_expr, params=params, limit=limit, **kwargs)
        schema = table_expr.schema()
        result = self._session.sql(sql).toArrow()
        zone = self._session.conf.get("spark.sql.session.timeZone") or "UTC"
        result = _wall_clock(result, schema, zone)
        return expr.__pyarrow_result__(PyArrowData.convert_table(result, schema))

    def execute(
        self,
        expr: Any,
        /,
        *,
        params: Mapping[Any, Any] | None = None,
        limit: int | str | None = None,
        **kwargs: Any,
    ) -> Any:
        table_expr = expr.as_table()
        arrow = self.to_pyarrow(table_expr, params=params, limit=limit, **kwargs)
        frame = PandasData.convert_table(arrow.to_pandas(), table_expr.schema())
        return expr.__pandas_result__(frame)


def _with_instants(schema: ibis.Schema, struct: StructType) -> ibis.Schema:
    """Mark Spark ``TIMESTAMP`` columns as instants (Ibis maps them to naive timestamps).

    Spark's ``TIMESTAMP`` is an instant rendered in the session zone, like DuckDB's
    ``TIMESTAMPTZ``; only ``TIMESTAMP_NTZ`` is a wall-clock time.
    """
    instants = {f.name for f in struct.fields if isinstance(f.dataType, TimestampType)}
    if not instants:
        return schema
    return ibis.schema(
        {
            name: dtype.copy(timezone="UTC") if name in instants else dtype
            for name, dtype in schema.items()
        }
    )


def _wall_clock(result: pa.Table, schema: ibis.Schema, zone: str) -> pa.Table:
    """Turn instants Spark returns for naive (wall-clock) timestamp columns into wall clock.

    Spark keeps a naive timestamp as the instant of that wall-clock time in the session zone
    and returns it as an instant; the wall-clock time in ``zone`` is the naive value.
    """
    for index, (name, dtype) in enumerate(schema.items()):
        column = result.column(index)
        if (
            dtype.is_timestamp()
            and dtype.timezone is None
            and pa.types.is_timestamp(column.type)
            and column.type.tz is not None
        ):
            zoned = column.cast(pa.timestamp(column.type.unit, tz=zone))
            result = result.set_column(index, name, pc.local_timestamp(zoned))
    return result


def row_hashes(spec: PhysicalTable, rows: pa.Table) -> pa.Array:
    """``_row_hash`` of conformed ``rows``: the DuckDB backend's SQL over the Arrow batch."""
    con = duckdb.connect()
    try:
        con.register("_nb_rows", rows)
        digests = con.execute(f"SELECT {hash_text_sql(spec)} AS h FROM _nb_rows").to_arrow_table()
    finally:
        con.close()
    return hex_to_letters(digests.column("h"))


class _SparkBatchWriter(BatchWriter):
    def __init__(self, warehouse: SparkWarehouse, batch_id: str, loaded_at: datetime) -> None:
        self.batch_id = batch_id
        self.loaded_at = loaded_at
        self.staged: list[DataFile] = []
        self._wh = warehouse
        self._open = True

    def _check_open(self) -> None:
        if not self._open:
            raise WarehouseStateError(f"batch {self.batch_id!r} is already closed")

    def append(self, table_name: str, data: pa.Table, *, hashes: pa.Array | None = None) -> int:
        self._check_open()
        spec = physical_table(table_name)
        rows = conform(spec, data, self._wh.timezone)
        n = rows.num_rows
        if n == 0:
            return 0
        if spec.hash_column is not None:
            if hashes is None:
                hashes = row_hashes(spec, rows)
            rows = rows.append_column(spec.hash_column, hashes)
        rows = rows.append_column(spec.batch_column, pa.array([self.batch_id] * n, pa.string()))
        loaded = pa.array([self.loaded_at] * n, pa.timestamp("us", tz="UTC"))
        rows = rows.append_column(spec.loaded_at_column, loaded)
        rows = rows.select([c.name for c in spec.columns]).cast(spec.arrow_schema())
        self.staged.append(self._wh._store.write_data(spec.name, self.batch_id, rows))
        self._wh._refresh_views([spec.name])
        return n

    def row_hashes(self, table_name: str, data: pa.Table) -> pa.Array:
        spec = hashed_table(table_name)
        return row_hashes(spec, conform(spec, data, self._wh.timezone))

    def known_hashes(self, table_name: str, hashes: pa.Array) -> pa.BooleanArray:
        self._check_open()
        # The table's view includes the files staged in this batch.
        return known_row_hashes(self._wh, table_name, hashes)


class SparkWarehouse(Warehouse):
    """A warehouse of Parquet files queried by Spark (local mode or a cluster).

    Parameters
    ----------
    storage:
        Folder of the data files and manifests (``SparkSettings.storage``).
    timezone:
        The bank's time zone; the Spark session runs in it.
    config:
        How to start Spark; ignored if this process already runs a Spark session.
    read_only:
        Read without taking the writer lock; any number of processes may do this while one
        process writes, and each sees the manifest current when it opened.
    published_dir:
        Where :meth:`publish` writes versions; ``None`` disables publishing.
    keep_published:
        Versions kept after each publish.
    """

    name = "spark"

    def __init__(
        self,
        storage: str | Path,
        timezone: str = "Asia/Shanghai",
        *,
        config: SparkSettings | None = None,
        read_only: bool = False,
        published_dir: Path | None = None,
        keep_published: int = 3,
    ) -> None:
        ZoneInfo(timezone)
        self.storage = Path(storage)
        self.timezone = timezone
        self.published_dir = published_dir
        self.keep_published = keep_published
        self.capabilities = Capabilities(
            atomic_batches=True,
            concurrent_readers=True,
            publication=published_dir is not None,
            read_only=read_only,
        )
        self._store = ManifestStore(self.storage)
        if read_only and not self._store.exists():
            raise WarehouseStateError(f"{self.storage}: no Spark warehouse to open read-only")
        if not read_only:
            self._store.acquire_writer()
        self._closed = False
        self._batch: _SparkBatchWriter | None = None
        # Loading the backend through ``ibis.pyspark`` registers its compile options once.
        ibis.pyspark  # noqa: B018
        try:
            self.session = child_session(config or SparkSettings(), timezone)
            # Ibis's connect pins the session to UTC; set the bank's zone after it.
            self._ibis = _ArrowResultBackend().connect(self.session)
            self.session.conf.set("spark.sql.session.timeZone", timezone)
            # Division by zero gives null and bad casts give null, as in DuckDB's Ibis
            # translation; ANSI mode would raise instead.
            self.session.conf.set("spark.sql.ansi.enabled", "false")
            self._manifest = self._store.load()
            self._refresh_views([spec.name for spec in LAYOUT])
        except BaseException:
            self._store.release_writer()
            raise

    # --- lifecycle -------------------------------------------------------------------------
    @property
    def backend(self) -> ibis.BaseBackend:
        return self._ibis

    @property  # type: ignore[override]
    def keys_indexed(self) -> bool:
        return self._manifest.keys_indexed

    @property
    def manifest(self) -> Manifest:
        """The manifest this handle reads (committed files only)."""
        return self._manifest

    def close(self) -> None:
        # Never stop the session: its SparkContext is shared by every handle in the process.
        if not self._closed:
            self._closed = True
            for spec in LAYOUT:
                self.session.catalog.dropTempView(spec.name)
            self._store.release_writer()

    def _require_writable(self, action: str) -> None:
        if self.capabilities.read_only:
            raise WarehouseStateError(f"{self.storage}: opened read-only, cannot {action}")
        if self._batch is not None:
            raise WarehouseStateError(
                f"cannot {action} while batch {self._batch.batch_id!r} is open"
            )

    def create_schema(self) -> None:
        # Tables are defined by the layout; storage needs its folders and a first manifest.
        self._require_writable("create the schema")
        self._store.initialise()
        self._manifest = self._store.load()

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
        writer = _SparkBatchWriter(self, batch_id, loaded_at or datetime.now(UTC))
        self._batch = writer
        try:
            yield writer
            self.index_repeated_keys(writer, {f.table for f in writer.staged})
        except BaseException:
            self._batch = None
            self._store.remove(writer.staged)
            self._refresh_views({f.table for f in writer.staged})
            raise
        else:
            if writer.staged:
                staged = self._manifest.with_files((*self._manifest.files, *writer.staged))
                self._manifest = self._store.commit(staged)
        finally:
            writer._open = False
            self._batch = None

    def has_batch(self, batch_id: str) -> bool:
        return batch_id in self._manifest.batch_ids

    def discard_batch(self, batch_id: str) -> int:
        self._require_writable(f"discard batch {batch_id!r}")
        doomed = [f for f in self._manifest.files if f.batch_id == batch_id]
        if not doomed:
            return 0
        kept = tuple(f for f in self._manifest.files if f.batch_id != batch_id)
        self._manifest = self._store.commit(self._manifest.with_files(kept))
        self._refresh_views({f.table for f in doomed})
        # The files stay until `gc`: readers that opened before may still be reading them.
        return sum(f.rows for f in doomed)

    # --- reading ---------------------------------------------------------------------------
    def _files(self, table: str) -> list[DataFile]:
        files = list(self._manifest.of_table(table))
        if self._batch is not None:
            files += [f for f in self._batch.staged if f.table == table]
        return files

    def _refresh_views(self, tables: Any) -> None:
        for name in tables:
            spec = physical_table(name)
            schema = PySparkSchema.from_ibis(spec.ibis_schema())
            files = self._files(name)
            if files:
                paths = [str(self._store.absolute(f)) for f in files]
                frame = self.session.read.schema(schema).parquet(*paths)
            else:
                frame = self.session.createDataFrame([], schema)
            frame.createOrReplaceTempView(spec.name)

    def row_counts(self) -> dict[str, int]:
        # Files are immutable and their row counts were recorded at write time: exact,
        # and no Spark job is needed.
        counts = {spec.name: 0 for spec in LAYOUT}
        for spec in LAYOUT:
            counts[spec.name] = sum(f.rows for f in self._files(spec.name))
        return counts

    def _release_memtable(self, memtable: ibis.Table) -> None:
        self.session.catalog.dropTempView(memtable.op().name)

    # --- publication -----------------------------------------------------------------------
    def publish(self) -> Path:
        self._require_writable("publish")
        if self.published_dir is None:
            raise WarehouseStateError("publishing needs a published_dir")
        from nextbest.warehouse.spark_publication import publish_snapshot

        return publish_snapshot(self, self.published_dir, keep=self.keep_published)

    def gc_storage(self) -> list[Path]:
        """Remove data files and manifests no longer current (discarded or crashed batches)."""
        self._require_writable("collect garbage")
        return self._store.gc()


def open_spark_warehouse(settings: Settings, read_only: bool = False) -> SparkWarehouse:
    """Open the Spark warehouse of an installation (schema created unless read-only).

    Raises
    ------
    nextbest.warehouse.BackendUnavailableError
        pyspark or Java is missing, or the ``spark`` settings are invalid.
    nextbest.warehouse.spark_storage.StorageError
        Another process holds the writer lock.
    """
    config = spark_settings(settings)
    warehouse = SparkWarehouse(
        config.storage_dir(settings),
        settings.timezone,
        config=config,
        read_only=read_only,
        published_dir=settings.published_dir,
    )
    if not read_only:
        warehouse.create_schema()
    return warehouse
