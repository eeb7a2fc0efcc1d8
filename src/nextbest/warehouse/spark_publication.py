"""Publication of the Spark warehouse: versioned Parquet snapshots behind an atomic pointer.

``publish`` has Spark write every table as Parquet into a new version folder under
``published_dir`` (first under a temporary name), makes it durable and read-only, and only
then switches the ``CURRENT`` pointer (write-temp + fsync + ``os.replace``), reusing
:func:`nextbest.warehouse.publication.install_version`. A crash at any point before the switch
leaves the previous version current; the half-written folder is removed by ``gc``.

Serving processes read a snapshot without a JVM: :class:`PublishedSnapshot` is a read-only
warehouse on an in-memory DuckDB over the snapshot's Parquet files, so the real-time path
never starts Spark. On opening it pins its version with hard links (metadata only, no copy)
in ``published_dir/.readers/``, so, as with a DuckDB file kept open, a reader keeps reading
its version after ``gc`` removed it; ``close`` drops the pin. Hard links need a local or
shared POSIX file system; on an object store, versions must simply be kept longer than the
longest reader lives (``keep``).
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import ibis
import pyarrow.parquet as pq

from nextbest.errors import NextbestError
from nextbest.warehouse import publication
from nextbest.warehouse.base import BatchWriter, Capabilities, Warehouse
from nextbest.warehouse.layout import LAYOUT

if TYPE_CHECKING:
    from nextbest.warehouse.spark import SparkWarehouse

__all__ = [
    "PAUSE_AT_ENV",
    "PAUSE_MARKER_ENV",
    "PublishedSnapshot",
    "collect_stale_pins",
    "publish_snapshot",
]

#: Test hook: when this names a checkpoint (``publish:after:<table>``), the publishing
#: process writes the marker file named by :data:`PAUSE_MARKER_ENV` and stops there, so a
#: test can kill it at a known point of a real publication.
PAUSE_AT_ENV = "NEXTBEST_TEST_PAUSE_AT"
PAUSE_MARKER_ENV = "NEXTBEST_TEST_PAUSE_MARKER"

_READERS = ".readers"
#: File in a published version whose warehouse maintained its key indexes.
KEYS_INDEXED_MARKER = "KEYS_INDEXED"


class SnapshotReadOnlyError(NextbestError):
    """A published snapshot is read-only."""


def _checkpoint(name: str, detail: str) -> None:
    if os.environ.get(PAUSE_AT_ENV) != name:
        return
    marker = Path(os.environ[PAUSE_MARKER_ENV])
    marker.write_text(detail, encoding="utf-8")
    while True:  # wait to be killed
        time.sleep(3600)


def publish_snapshot(warehouse: SparkWarehouse, published_dir: Path, *, keep: int = 3) -> Path:
    """Write every table of ``warehouse`` as a new published version and make it current.

    Returns
    -------
    Path
        The new version folder (``<table>/part-*.parquet`` per table).
    """

    counts = warehouse.row_counts()

    def write_copy(target: Path) -> None:
        for spec in LAYOUT:
            folder = target / spec.name
            if counts[spec.name]:
                frame = warehouse.session.table(spec.name)
                frame.write.mode("errorifexists").parquet(str(folder))
            else:
                # An empty table needs no Spark job, only a file that states its columns.
                folder.mkdir(parents=True)
                pq.write_table(spec.arrow_schema().empty_table(), folder / "part-empty.parquet")
            _checkpoint(f"publish:after:{spec.name}", str(target))
        if warehouse.keys_indexed:
            (target / KEYS_INDEXED_MARKER).touch()
        # Read-only all the way down: nothing can be added to or removed from a version
        # (publication makes the files read-only; folders are ours to seal).
        for folder in sorted(target.rglob("*"), reverse=True):
            if folder.is_dir():
                folder.chmod(0o555)
        target.chmod(0o555)

    return publication.install_version(published_dir, write_copy, keep=keep)


def _pin(version: Path) -> Path:
    """Hard-link every file of ``version`` into a private reader folder beside it."""
    pin = version.parent / _READERS / f"{os.getpid()}-{uuid.uuid4().hex[:8]}-{version.name}"
    for source in version.rglob("*"):
        if source.is_file():
            target = pin / source.relative_to(version)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(source, target)
    pin.mkdir(parents=True, exist_ok=True)
    return pin


def _process_alive(pid_text: str) -> bool:
    if not pid_text.isdigit() or int(pid_text) <= 0:
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def collect_stale_pins(published_dir: Path) -> list[Path]:
    """Remove reader pins of processes that no longer run (readers killed without close)."""
    readers = published_dir / _READERS
    removed: list[Path] = []
    if not readers.is_dir():
        return removed
    for pin in readers.iterdir():
        if not _process_alive(pin.name.split("-", 1)[0]):
            shutil.rmtree(pin, ignore_errors=True)
            removed.append(pin)
    return removed


class PublishedSnapshot(Warehouse):
    """A read-only warehouse over one published Parquet snapshot, queried by DuckDB.

    Parameters
    ----------
    version:
        A version folder written by :func:`publish_snapshot`.
    timezone:
        The bank's time zone, set on the DuckDB session as on the live warehouse.
    pin:
        Hard-link the version so ``gc`` cannot pull it from under this reader.
    """

    name = "spark-snapshot"

    def __init__(self, version: Path, timezone: str = "Asia/Shanghai", *, pin: bool = True):
        if not version.is_dir():
            raise publication.PublicationError(f"{version}: not a published Spark snapshot")
        self.version = version
        self.timezone = timezone
        self.capabilities = Capabilities(
            atomic_batches=True, concurrent_readers=True, publication=False, read_only=True
        )
        self._pin = _pin(version) if pin else None
        root = self._pin or version
        self._ibis = ibis.duckdb.connect()
        self._ibis.con.execute(f"SET TimeZone = '{timezone}'")
        for spec in LAYOUT:
            if (root / spec.name).is_dir():
                files = os.path.join(str(root / spec.name), "*.parquet").replace("'", "''")
                source = f"read_parquet('{files}')"
            else:  # a key index in a version published before key indexes existed
                self._ibis.con.register(f"_empty_{spec.name}", spec.arrow_schema().empty_table())
                source = f'"_empty_{spec.name}"'
            self._ibis.con.execute(f'CREATE VIEW "{spec.name}" AS SELECT * FROM {source}')
        self.keys_indexed = (root / KEYS_INDEXED_MARKER).exists()
        self._closed = False

    @property
    def backend(self) -> ibis.BaseBackend:
        return self._ibis

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._ibis.disconnect()
            if self._pin is not None:
                shutil.rmtree(self._pin, ignore_errors=True)

    def _refuse(self, action: str) -> SnapshotReadOnlyError:
        return SnapshotReadOnlyError(
            f"{self.version}: a published snapshot is read-only, cannot {action}"
        )

    def create_schema(self) -> None:
        raise self._refuse("create the schema")

    def batch(
        self, batch_id: str, *, loaded_at: datetime | None = None
    ) -> AbstractContextManager[BatchWriter]:
        raise self._refuse(f"open batch {batch_id!r}")

    def discard_batch(self, batch_id: str) -> int:
        raise self._refuse(f"discard batch {batch_id!r}")

    def publish(self) -> Path:
        raise self._refuse("publish")

    def has_batch(self, batch_id: str) -> bool:
        for spec in LAYOUT:
            t = self.table(spec.name)
            hits = t.filter(t[spec.batch_column] == batch_id).count()
            if int(self.backend.to_pyarrow(hits).as_py()):
                return True
        return False
