"""Crash safety and publication, with real processes killed by SIGKILL."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from nextbest.config import Settings
from nextbest.errors import NextbestError
from nextbest.warehouse import (
    PublicationError,
    Warehouse,
    gc,
    latest_published,
    open_published,
    publication,
)
from tests.warehouse.test_contract import customers

ROOT = Path(__file__).resolve().parents[2]

_CHILD_PRELUDE = """
import os, signal, sys, time
print("child-start", os.getpid(), file=sys.stderr, flush=True)
from decimal import Decimal
import pyarrow as pa
from nextbest.config import Settings
from nextbest.errors import NextbestError
from nextbest.warehouse import open_warehouse, publication
from tests.warehouse.test_contract import customers, transactions

settings = Settings(home=sys.argv[1], warehouse_backend=sys.argv[2])
wh = open_warehouse(settings)
print("child-opened", file=sys.stderr, flush=True)
"""


def _run_child(settings: Settings, body: str, *, wait_for: str | None = None) -> int:
    """Run ``body`` in a fresh interpreter on this installation; SIGKILL it at ``wait_for``."""
    script = _CHILD_PRELUDE + textwrap.dedent(body)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(settings.home), settings.warehouse_backend],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    if wait_for is not None:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if line != wait_for:
            proc.kill()
            _, err = proc.communicate(timeout=60)
            pytest.fail(f"child said {line!r}, exit code {proc.returncode}, stderr: {err}")
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=120)
    return proc.returncode


def test_sigkill_mid_batch_leaves_no_row_of_that_batch(
    backend_settings: Settings, open_wh: Callable[..., Warehouse]
) -> None:
    rc = _run_child(
        backend_settings,
        """
        with wh.batch("b1") as w:
            w.append("customer", customers(["k1"]))
        with wh.batch("b2") as w:
            # Large enough for the engine to write data pages before the commit.
            w.append("customer", customers([f"n{i}" for i in range(150_000)]))
            w.append("transaction", transactions(["t1", "t2"]))
            assert w.known_hashes("customer", w.row_hashes("customer", customers(["n7"])))[0]
            print("staged", flush=True)
            time.sleep(120)
        """,
        wait_for="staged",
    )
    assert rc == -signal.SIGKILL
    wh = open_wh()
    assert wh.has_batch("b1")
    assert not wh.has_batch("b2")
    counts = wh.row_counts()
    assert counts["customer"] == 1
    assert counts["transaction"] == 0
    with wh.batch("b2") as writer:  # the file is healthy and the id is free
        writer.append("customer", customers(["k2"]))
    assert wh.row_counts()["customer"] == 2


def test_readers_see_the_old_version_until_the_switch(
    backend_settings: Settings, open_wh: Callable[..., Warehouse], monkeypatch: pytest.MonkeyPatch
) -> None:
    wh = open_wh()
    assert latest_published(backend_settings) is None
    with pytest.raises(PublicationError, match="nothing published yet"):
        open_published(backend_settings)
    with wh.batch("b1") as writer:
        writer.append("customer", customers(["k1"]))
    first = wh.publish()
    assert latest_published(backend_settings) == first
    assert not os.stat(first).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    reader = open_published(backend_settings)
    assert reader.capabilities.read_only

    with wh.batch("b2") as writer:
        writer.append("customer", customers(["k2"]))
    seen_before_switch: list[Path | None] = []
    switch = publication._switch_pointer

    def observing_switch(published_dir: Path, name: str) -> None:
        seen_before_switch.append(latest_published(backend_settings))
        switch(published_dir, name)

    monkeypatch.setattr(publication, "_switch_pointer", observing_switch)
    second = wh.publish()
    assert seen_before_switch == [first]
    assert latest_published(backend_settings) == second != first
    # The reader opened before keeps its version; a new reader sees the new one.
    assert reader.row_counts()["customer"] == 1
    fresh = open_published(backend_settings)
    assert fresh.row_counts()["customer"] == 2
    reader.close()
    fresh.close()


def test_crash_before_the_switch_leaves_the_previous_version_current(
    backend_settings: Settings, open_wh: Callable[..., Warehouse]
) -> None:
    wh = open_wh()
    with wh.batch("b1") as writer:
        writer.append("customer", customers(["k1"]))
    first = wh.publish()
    wh.close()  # release the writer lock for the child
    rc = _run_child(
        backend_settings,
        """
        with wh.batch("b2") as w:
            w.append("customer", customers(["k2"]))
        def die(*args):
            os.kill(os.getpid(), signal.SIGKILL)
        publication._switch_pointer = die
        wh.publish()
        """,
    )
    assert rc == -signal.SIGKILL
    assert latest_published(backend_settings) == first
    reader = open_published(backend_settings)
    assert reader.row_counts()["customer"] == 1
    reader.close()
    # The next publish by a healthy writer moves on past the orphaned copy.
    wh = open_wh()
    third = wh.publish()
    assert latest_published(backend_settings) == third
    fresh = open_published(backend_settings)
    assert fresh.row_counts()["customer"] == 2
    fresh.close()


def test_gc_keeps_the_newest_versions_and_the_current_one(
    backend_settings: Settings, open_wh: Callable[..., Warehouse]
) -> None:
    wh = open_wh()
    oldest = wh.publish()
    reader = open_published(backend_settings)
    published = [oldest] + [wh.publish() for _ in range(4)]
    # publish() keeps the three newest versions by default.
    assert publication.published_versions(backend_settings.published_dir) == published[2:]
    leftover = backend_settings.published_dir / ".tmp-warehouse-v000099-x.duckdb"
    leftover.write_bytes(b"partial")
    removed = gc(backend_settings, keep=2)
    assert sorted(removed) == sorted([published[2], leftover])
    assert publication.published_versions(backend_settings.published_dir) == published[3:]
    assert latest_published(backend_settings) == published[-1]
    # A reader holding a removed version keeps reading it.
    assert reader.row_counts()["customer"] == 0
    reader.close()
    with pytest.raises(PublicationError, match="at least 1"):
        gc(backend_settings, keep=0)


def test_publish_is_refused_inside_a_batch(open_wh: Callable[..., Warehouse]) -> None:
    wh = open_wh()
    with wh.batch("b1"), pytest.raises(NextbestError, match="while batch"):
        wh.publish()


def test_a_broken_pointer_is_reported(backend_settings: Settings) -> None:
    backend_settings.published_dir.mkdir(parents=True)
    (backend_settings.published_dir / "CURRENT").write_text("warehouse-v000001-x.duckdb\n")
    with pytest.raises(PublicationError, match="not a published version"):
        latest_published(backend_settings)
