"""Spark configuration and the one Spark session a process shares.

Spark is selected with ``Settings.warehouse_backend = "spark"``; everything Spark-specific
is configured here, next to the backend (as Feast keeps each store's config beside it):
environment variables ``NEXTBEST_SPARK_*`` or a ``spark:`` mapping in the installation's
``nextbest.yaml``. Local mode (``local[2]``) needs nothing else; a cluster is a different
``master`` and a ``storage`` location every executor can reach.

A JVM costs seconds to start, so a process starts Spark once and every warehouse handle gets
its own lightweight child session (``SparkSession.newSession``): its own temporary views and
SQL settings over the shared SparkContext.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from nextbest.config import Settings
from nextbest.warehouse.factory import BackendUnavailableError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "SparkSettings",
    "child_session",
    "require_spark",
    "shared_session",
    "spark_settings",
    "stop_shared",
]


class SparkSettings(BaseSettings):
    """How the Spark warehouse runs and where it keeps its data.

    Attributes
    ----------
    master:
        Spark master URL: ``local[2]`` (embedded, the default), ``spark://host:7077``,
        ``yarn`` or ``k8s://https://...``.
    storage:
        Folder holding the warehouse's Parquet files and manifests; ``$home/spark`` by
        default. On a cluster it must be a path every executor and the driver see at the
        same place (a shared POSIX file system such as NFS or a FUSE mount of the object
        store; see docs/scaling.md).
    shuffle_partitions:
        ``spark.sql.shuffle.partitions``; a handful for local mode, about 2-3 times the
        executor cores on a cluster.
    driver_memory:
        ``spark.driver.memory`` (only effective when this process starts the JVM).
    scratch:
        Spark's local scratch space (spills, ``spark.sql.warehouse.dir``); a temporary
        folder by default so nothing is written into the working directory.
    conf:
        Further ``spark.*`` settings passed as they are (executors, memory, S3 options).
    """

    model_config = SettingsConfigDict(env_prefix="NEXTBEST_SPARK_", extra="forbid")

    master: str = "local[2]"
    storage: Path | None = None
    shuffle_partitions: int = Field(default=2, ge=1)
    driver_memory: str = "2g"
    scratch: Path | None = None
    app_name: str = "nextbest"
    conf: dict[str, str] = Field(default_factory=dict)

    def storage_dir(self, settings: Settings) -> Path:
        """The storage folder of ``settings``' installation."""
        return (self.storage or settings.home / "spark").resolve()


def spark_settings(settings: Settings) -> SparkSettings:
    """Spark settings of an installation: the ``spark:`` mapping of its YAML file, then env.

    Raises
    ------
    BackendUnavailableError
        The ``spark:`` entry is not a mapping of known settings.
    """
    config_file = Path(os.environ.get("NEXTBEST_CONFIG") or settings.home / "nextbest.yaml")
    from_file: dict[str, Any] = {}
    if config_file.is_file():
        loaded = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        section = loaded.get("spark", {}) if isinstance(loaded, dict) else {}
        if not isinstance(section, dict):
            raise BackendUnavailableError(f"{config_file}: 'spark' must be a mapping")
        from_file = section
    from_env = SparkSettings().model_dump(exclude_unset=True)
    try:
        return SparkSettings.model_validate({**from_file, **from_env})
    except ValueError as exc:
        raise BackendUnavailableError(f"{config_file}: invalid 'spark' settings: {exc}") from exc


_lock = threading.Lock()
_shared: SparkSession | None = None


def _require_java() -> None:
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (java_home and Path(java_home, "bin", "java").exists()):
        raise BackendUnavailableError(
            "warehouse_backend='spark' needs Java 17 (java not found on PATH or in JAVA_HOME); "
            "install openjdk-17-jre-headless"
        )


def require_spark() -> None:
    """Fail with a clear message unless pyspark and Java are installed.

    Raises
    ------
    BackendUnavailableError
        pyspark is missing (``pip install 'nextbest[spark]'``) or Java is not found.
    """
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailableError(
            "warehouse_backend='spark' is not installed: pip install 'nextbest[spark]'"
        ) from exc
    _require_java()


def shared_session(config: SparkSettings, timezone: str) -> SparkSession:
    """The process's Spark session, started on first use with ``config``.

    Later calls return the same session whatever they pass: a JVM's static settings
    (master, memory) cannot change once it runs.

    Raises
    ------
    BackendUnavailableError
        pyspark is not installed (``pip install 'nextbest[spark]'``) or Java is missing.
    """
    global _shared
    with _lock:
        if _shared is not None:
            return _shared
        require_spark()
        from pyspark.sql import SparkSession

        scratch = config.scratch or Path(tempfile.mkdtemp(prefix="nextbest-spark-"))
        scratch.mkdir(parents=True, exist_ok=True)
        options = {
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.shuffle.partitions": str(config.shuffle_partitions),
            "spark.default.parallelism": str(config.shuffle_partitions),
            "spark.driver.memory": config.driver_memory,
            "spark.local.dir": str(scratch / "local"),
            # Without these Spark writes spark-warehouse/ and metastore_db/ into the cwd.
            "spark.sql.warehouse.dir": str(scratch / "spark-warehouse"),
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={scratch / 'derby'}",
            "spark.sql.session.timeZone": timezone,
            "spark.sql.execution.arrow.pyspark.enabled": "true",
            # Instants as INT64 microseconds (not legacy INT96) so other readers agree.
            "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
            "spark.sql.sources.parallelPartitionDiscovery.threshold": "1000000",
            **config.conf,
        }
        builder = SparkSession.builder.master(config.master).appName(config.app_name)
        for key, value in options.items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
        _shared = session
        return session


def child_session(config: SparkSettings, timezone: str) -> SparkSession:
    """A new session (own temporary views and SQL settings) on the shared Spark context."""
    session = shared_session(config, timezone).newSession()
    session.conf.set("spark.sql.session.timeZone", timezone)
    return session


def stop_shared() -> None:
    """Stop the shared session (tests and short-lived commands; the JVM exits with us anyway)."""
    global _shared
    with _lock:
        if _shared is not None:
            _shared.stop()
            _shared = None
