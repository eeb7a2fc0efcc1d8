"""``nextbest warehouse versions|gc`` on a Spark installation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nextbest.cli.main import app
from nextbest.config import Settings
from nextbest.warehouse import open_warehouse
from tests.warehouse.test_contract import customers


@pytest.fixture
def spark_home(
    settings: Settings, spark_session: object, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("NEXTBEST_HOME", str(settings.home))
    monkeypatch.setenv("NEXTBEST_WAREHOUSE_BACKEND", "spark")
    return settings.model_copy(update={"warehouse_backend": "spark"})


def _run(*args: str) -> dict:
    result = CliRunner().invoke(app, ["warehouse", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_versions_and_gc(spark_home: Settings) -> None:
    assert _run("versions")["versions"] == []
    wh = open_warehouse(spark_home)
    with wh.batch("b1") as writer:
        writer.append("customer", customers(["k1"]))
    published = [wh.publish() for _ in range(3)]
    with wh.batch("b2") as writer:
        writer.append("customer", customers(["k2"]))
    assert wh.discard_batch("b2") == 1
    wh.close()  # gc takes the writer lock

    listed = _run("versions")
    assert [v["name"] for v in listed["versions"]] == [p.name for p in published]
    assert [v["current"] for v in listed["versions"]] == [False, False, True]
    assert listed["storage_manifest"].startswith("warehouse-v")

    removed = [Path(p) for p in _run("gc", "--keep", "1")["removed"]]
    assert set(published[:2]) <= set(removed)
    assert [v["name"] for v in _run("versions")["versions"]] == [published[-1].name]
