"""Spark publication and storage: a real publish killed mid-write, gc of versions and files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pytest

from nextbest.config import Settings
from nextbest.warehouse import (
    BackendUnavailableError,
    latest_published,
    open_published,
    open_warehouse,
    publication,
)
from nextbest.warehouse.spark import SparkWarehouse
from nextbest.warehouse.spark_publication import (
    PAUSE_AT_ENV,
    PAUSE_MARKER_ENV,
    collect_stale_pins,
)
from nextbest.warehouse.spark_session import SparkSettings, spark_settings
from nextbest.warehouse.spark_storage import KEEP_MANIFESTS, Manifest
from tests.warehouse.test_contract import customers, transactions

ROOT = Path(__file__).resolve().parents[2]

_CHILD = """
import sys
from nextbest.config import Settings
from nextbest.warehouse import open_warehouse
from tests.warehouse.test_contract import customers, transactions

wh = open_warehouse(Settings(home=sys.argv[1], warehouse_backend="spark"))
with wh.batch("b2") as w:
    w.append("customer", customers(["k2", "k3"]))
    w.append("transaction", transactions(["t1"]))
print("committed", flush=True)
wh.publish()
print("published", flush=True)
"""


def flags() -> pa.Table:
    return pa.table(
        {"source_file": ["f.csv"], "row_number": [1], "target_table": ["customer"], "rule": ["r"]}
    )


@pytest.fixture
def spark_settings_(settings: Settings, spark_session: object) -> Settings:
    return settings.model_copy(update={"warehouse_backend": "spark"})


def _customer_count(settings: Settings) -> int:
    reader = open_published(settings)
    try:
        return reader.row_counts()["customer"]
    finally:
        reader.close()


def test_a_publish_killed_mid_write_leaves_the_previous_version(
    spark_settings_: Settings, tmp_path: Path
) -> None:
    wh = open_warehouse(spark_settings_)
    with wh.batch("b1") as writer:
        writer.append("customer", customers(["k1"]))
    first = wh.publish()
    wh.close()  # the child becomes the writer

    marker = tmp_path / "paused-mid-publish"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        # customer is written first; transaction and the rest are still to come.
        PAUSE_AT_ENV: "publish:after:customer",
        PAUSE_MARKER_ENV: str(marker),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_CHILD), str(spark_settings_.home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            if child.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"child never paused mid-publish: {child.communicate()[1][-3000:]}")
            time.sleep(0.2)
        # Proof that it is mid-write: a temporary version with the first table and
        # without the transaction table, while CURRENT still names the first version.
        partial = Path(marker.read_text(encoding="utf-8"))
        assert partial.name.startswith(".tmp-warehouse-v")
        assert any((partial / "customer").glob("*.parquet"))
        assert not (partial / "transaction").exists()
        assert latest_published(spark_settings_) == first
        assert _customer_count(spark_settings_) == 1
    finally:
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert out.splitlines() == ["committed"]

    # After the crash: still the previous version, and the batch itself is committed.
    assert latest_published(spark_settings_) == first
    assert _customer_count(spark_settings_) == 1
    assert partial.exists()
    rerun = open_warehouse(spark_settings_)
    assert rerun.has_batch("b2")
    second = rerun.publish()
    rerun.close()
    assert latest_published(spark_settings_) == second != first
    assert _customer_count(spark_settings_) == 3
    assert not partial.exists()  # the leftover was collected by the publish's gc
    reader = open_published(spark_settings_)
    assert reader.row_counts()["transaction"] == 1
    reader.close()


def test_orphaned_and_discarded_files_are_collected(spark_settings_: Settings) -> None:
    wh = open_warehouse(spark_settings_)
    assert isinstance(wh, SparkWarehouse)
    with wh.batch("b1") as writer:
        writer.append("customer", customers(["k1"]))
    with wh.batch("b2") as writer:
        writer.append("customer", customers(["k2"]))
    # A crash between writing a file and committing the manifest leaves this behind.
    orphan = wh._store.write_data("customer", "b3", wh.to_arrow(wh.table("customer")))
    with pytest.raises(RuntimeError), wh.batch("b4") as writer:
        writer.append("customer", customers(["k4"]))
        staged = wh._store.absolute(writer.staged[0])  # type: ignore[attr-defined]
        raise RuntimeError("rolled back")
    assert not staged.exists()  # rollback removes its own files at once
    b2_file = wh._store.absolute(next(f for f in wh.manifest.files if f.batch_id == "b2"))
    assert wh.discard_batch("b2") == 1
    assert "b2" not in wh._store.load().batch_ids
    removed = wh.gc_storage()
    assert wh._store.absolute(orphan) in removed
    # Older manifests, kept for readers that opened before the discard, still name b2's
    # file; it goes once no kept manifest does.
    assert b2_file.exists()
    for i in range(KEEP_MANIFESTS):
        with wh.batch(f"c{i}") as writer:
            writer.append("dq_flag", flags())
    assert b2_file in wh.gc_storage()
    assert not b2_file.exists()
    assert wh.row_counts()["customer"] == 1
    assert wh.to_arrow(wh.table("customer")).column("customer_key").to_pylist() == ["k1"]
    wh.close()


def test_one_writer_many_readers(spark_settings_: Settings) -> None:
    writer_wh = open_warehouse(spark_settings_)
    with pytest.raises(Exception, match="another process is writing"):
        open_warehouse(spark_settings_)
    with writer_wh.batch("b1") as writer:
        writer.append("customer", customers(["k1"]))
    reader = open_warehouse(spark_settings_, read_only=True)
    assert reader.capabilities.concurrent_readers
    with writer_wh.batch("b2") as writer:
        writer.append("customer", customers(["k2"]))
    # A reader sees the manifest current when it opened.
    assert reader.row_counts()["customer"] == 1
    fresh = open_warehouse(spark_settings_, read_only=True)
    assert fresh.row_counts()["customer"] == 2
    fresh.close()
    reader.close()
    writer_wh.close()


def test_manifest_round_trips_and_survives_a_broken_pointer(spark_settings_: Settings) -> None:
    wh = open_warehouse(spark_settings_)
    with wh.batch("b1") as writer:
        writer.append("transaction", transactions(["t1", "t2"]))
    assert isinstance(wh, SparkWarehouse)
    manifest = wh.manifest
    assert Manifest.from_json(manifest.to_json(), "x").files == manifest.files
    assert manifest.keys_indexed and Manifest.from_json(manifest.to_json(), "x").keys_indexed
    # a manifest written before key indexes existed: its files are read without them
    old = json.loads(manifest.to_json())
    del old["keys_indexed"]
    assert not Manifest.from_json(json.dumps(old), "x").keys_indexed
    assert Manifest.from_json(json.dumps({"format": 1, "files": []}), "x").keys_indexed
    wh.close()
    (wh.storage / "manifests" / "CURRENT").write_text("warehouse-v999999-x.json\n")
    with pytest.raises(Exception, match="not a published version"):
        open_warehouse(spark_settings_)


def test_stale_reader_pins_are_collected(spark_settings_: Settings) -> None:
    wh = open_warehouse(spark_settings_)
    wh.publish()
    reader = open_published(spark_settings_)
    assert reader.keys_indexed  # the published copy carries complete key indexes
    readers = spark_settings_.published_dir / ".readers"
    assert len(list(readers.iterdir())) == 1
    dead = readers / "999999999-deadbeef-warehouse-v000001-x"
    dead.mkdir()
    assert collect_stale_pins(spark_settings_.published_dir) == [dead]
    assert len(list(readers.iterdir())) == 1  # the live reader's pin stays
    reader.close()
    assert list(readers.iterdir()) == []
    assert publication.published_versions(spark_settings_.published_dir)
    wh.close()


def test_spark_settings_come_from_yaml_then_environment(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    (settings.home / "nextbest.yaml").write_text(
        "warehouse_backend: spark\nspark:\n  master: spark://head:7077\n"
        "  shuffle_partitions: 64\n  conf:\n    spark.executor.memory: 8g\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("NEXTBEST_SPARK_SHUFFLE_PARTITIONS", "128")
    config = spark_settings(settings)
    assert config.master == "spark://head:7077"
    assert config.shuffle_partitions == 128
    assert config.conf == {"spark.executor.memory": "8g"}
    assert config.storage_dir(settings) == (settings.home / "spark").resolve()
    assert SparkSettings().master == "local[2]"


def test_missing_java_is_a_clear_error(
    spark_settings_: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(BackendUnavailableError, match="needs Java 17"):
        open_warehouse(spark_settings_)
