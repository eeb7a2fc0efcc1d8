"""Storage of the Spark warehouse: immutable Parquet files and a versioned manifest.

Spark has no transactions over plain Parquet, so a batch is made atomic the way table
formats (Delta Lake, Iceberg) do it, in miniature::

    <storage>/data/<table>/<uuid>.parquet          immutable, one per append
    <storage>/manifests/warehouse-v000042-....json  which files make up each table
    <storage>/manifests/CURRENT                     names the current manifest
    <storage>/LOCK                                  held by the one writing process

Appending writes a new data file that no manifest names yet. Committing a batch writes a
new manifest version (old files plus the batch's) and switches ``CURRENT`` to it with the
same write-temp + fsync + ``os.replace`` step as publication. A crash before the switch
leaves unreferenced files that readers never see and :meth:`ManifestStore.gc` removes.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from nextbest.errors import NextbestError
from nextbest.warehouse import publication

__all__ = ["DataFile", "Manifest", "ManifestStore", "StorageError"]

#: Manifest versions kept after each commit; readers hold theirs in memory, so a few suffice.
KEEP_MANIFESTS = 5


class StorageError(NextbestError):
    """The Spark warehouse's storage is missing, locked or inconsistent."""


@dataclass(frozen=True)
class DataFile:
    """One immutable Parquet file of one batch of one table."""

    table: str
    batch_id: str
    path: str  # relative to the storage folder, so the folder can move
    rows: int


@dataclass(frozen=True)
class Manifest:
    """The committed content of the warehouse: every data file, in commit order.

    ``keys_indexed``: every batch since the first maintained the key indexes (false for a
    warehouse written before they existed; it keeps reading without them).
    """

    files: tuple[DataFile, ...] = ()
    version: str | None = None
    keys_indexed: bool = True

    def with_files(self, files: tuple[DataFile, ...]) -> Manifest:
        """The next manifest: these files, the same index state, no version yet."""
        return Manifest(files, None, self.keys_indexed)

    def of_table(self, table: str) -> tuple[DataFile, ...]:
        return tuple(f for f in self.files if f.table == table)

    @property
    def batch_ids(self) -> frozenset[str]:
        return frozenset(f.batch_id for f in self.files)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": 1,
                "files": [f.__dict__ for f in self.files],
                "keys_indexed": self.keys_indexed,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str, version: str) -> Manifest:
        data = json.loads(text)
        files = tuple(DataFile(**f) for f in data["files"])
        return cls(files, version, data.get("keys_indexed", not files))


@dataclass
class ManifestStore:
    """Reads and commits manifests and writes data files under one storage folder."""

    root: Path
    _lock_fd: int | None = field(default=None, init=False, repr=False)

    @property
    def manifests_dir(self) -> Path:
        return self.root / "manifests"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def exists(self) -> bool:
        return publication.latest_published(self.manifests_dir) is not None

    def initialise(self) -> None:
        """Create the folders and an empty first manifest if there is none (idempotent)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.exists():
            self.commit(Manifest())

    def load(self) -> Manifest:
        """The current manifest (empty if the storage was never initialised)."""
        try:
            current = publication.latest_published(self.manifests_dir)
        except publication.PublicationError as exc:
            raise StorageError(str(exc)) from exc
        if current is None:
            return Manifest()
        return Manifest.from_json(current.read_text(encoding="utf-8"), current.name)

    def commit(self, manifest: Manifest) -> Manifest:
        """Make ``manifest`` current atomically; returns it with its version name."""

        def write(target: Path) -> None:
            target.write_text(manifest.to_json(), encoding="utf-8")

        path = publication.install_version(
            self.manifests_dir, write, suffix=".json", keep=KEEP_MANIFESTS
        )
        return Manifest(manifest.files, path.name, manifest.keys_indexed)

    def write_data(self, table: str, batch_id: str, rows: pa.Table) -> DataFile:
        """Write ``rows`` to a new durable Parquet file that no manifest names yet."""
        relative = Path("data") / table / f"{uuid.uuid4().hex}.parquet"
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(rows, target, compression="zstd")
        with target.open("rb") as handle:
            os.fsync(handle.fileno())
        return DataFile(table, batch_id, relative.as_posix(), rows.num_rows)

    def absolute(self, data_file: DataFile) -> Path:
        return self.root / data_file.path

    def remove(self, files: tuple[DataFile, ...] | list[DataFile]) -> None:
        for data_file in files:
            self.absolute(data_file).unlink(missing_ok=True)

    # --- the writer lock -------------------------------------------------------------------
    def acquire_writer(self) -> None:
        """Take the writer lock (one writing process per storage folder).

        Raises
        ------
        StorageError
            Another handle or process holds it.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StorageError(
                f"{self.root}: another process is writing this warehouse; open it read-only "
                "or wait for the writer to finish"
            ) from None
        self._lock_fd = fd

    def release_writer(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None

    # --- garbage collection ----------------------------------------------------------------
    def gc(self) -> list[Path]:
        """Remove data files no kept manifest names (discarded or crashed batches).

        Run only by the writer (it must hold the lock): files of a batch still being
        staged are named by no manifest yet.
        """
        if self._lock_fd is None:
            raise StorageError(f"{self.root}: gc needs the writer lock")
        removed = publication.gc(self.manifests_dir, keep=KEEP_MANIFESTS)
        referenced: set[Path] = set()
        for version in publication.published_versions(self.manifests_dir):
            manifest = Manifest.from_json(version.read_text(encoding="utf-8"), version.name)
            referenced.update(self.absolute(f) for f in manifest.files)
        if self.data_dir.is_dir():
            for path in sorted(self.data_dir.rglob("*.parquet")):
                if path not in referenced:
                    path.unlink()
                    removed.append(path)
        return removed
