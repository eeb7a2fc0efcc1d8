"""The one-customer profile and customer search, in Python and through the CLI.

One installation per module: the hand-built bank, understood as of AS_OF and published once.
Commands run in-process (typer's runner on the real app, real files); one runs as a real
process to cover the entry point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from nextbest.cli.main import app
from nextbest.config import Settings
from nextbest.profile.profile360 import ProfileNotFoundError, customer_profile
from nextbest.profile.search import SearchCriteria, SearchError, search_customers
from nextbest.segment.clustering import SegmentModel
from nextbest.services.stores import init_installation
from nextbest.services.understanding import run_understanding
from nextbest.warehouse import open_published
from nextbest.warehouse.duckdb import DuckDBWarehouse
from tests.profile.bank import AS_OF, T_LOAD, load_bank


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    home = tmp_path_factory.mktemp("profile360") / "nextbest"
    home.mkdir()
    settings = Settings(home=home)
    init_installation(settings)
    wh = DuckDBWarehouse(settings.warehouse_file, settings.timezone,
                         published_dir=settings.published_dir)  # fmt: skip
    load_bank(wh)
    # The bank has 5 customers with products: k = 2 is the only k the data allows.
    run_understanding(wh, AS_OF, load_cutoff=T_LOAD, segment_model=SegmentModel(k_range=(2,)))
    wh.publish()
    wh.close()
    yield settings


def _cli(settings: Settings, *args: str) -> Any:
    result = CliRunner().invoke(app, list(args), env={"NEXTBEST_HOME": str(settings.home)})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


def test_profile_in_python(installed: Settings) -> None:
    with open_published(installed) as wh:
        p = customer_profile(wh, "c_payroll")
        with pytest.raises(ProfileNotFoundError, match="c_nobody"):
            customer_profile(wh, "c_nobody")
    assert p.as_of == AS_OF and p.lifecycle_stage == "active" and p.lifecycle_stage_zh == "活跃"
    tags = {t.code: t for t in p.tags}
    assert {"payroll", "young"} <= set(tags)
    assert tags["payroll"].expression == "salary_months_6m >= 3"
    assert tags["payroll"].because == (("salary_months_6m", 6),)
    assert p.segments["asset_size"] == "emerging" and p.segments["cluster"] in ("s1", "s2")
    assert p.rfm is not None and p.rfm["frequency"] == 8
    assert p.value is not None and p.value["value_tier"] and p.value["budget_strategy"]
    assert p.features["salary_months_6m"] == 6


def test_profile_command_shows_tags_with_reasons_rfm_and_value(installed: Settings) -> None:
    shown = _cli(installed, "profile", "c_payroll", "--json")
    assert shown["lifecycle_stage"] == "active" and shown["segments"]["asset_size"] == "emerging"
    payroll = next(t for t in shown["tags"] if t["code"] == "payroll")
    assert payroll["because"] == [["salary_months_6m", 6]]
    assert shown["rfm"]["rfm_segment"] and shown["value"]["value_tier"]
    text = _cli(installed, "profile", "c_mature")
    for part in ("lifecycle: mature", "RFM: R", "value tier", "asset_size=emerging"):
        assert part in text, part
    assert "high_net_worth" not in text  # 380k AUM
    assert "[salary_months_6m=6]" in _cli(installed, "profile", "c_payroll")  # the reason


def test_tags_commands(installed: Settings) -> None:
    listed = _cli(installed, "tags", "list", "--json")
    assert any(t["code"] == "payroll" and t["zh"] == "代发工资客户" for t in listed)
    (entry,) = _cli(installed, "tags", "explain", "c_payroll", "--tag", "payroll", "--json")
    assert entry["tagged"] is True and entry["explanation"]["columns"] == [["salary_months_6m", 6]]


def test_search_by_tag_segment_and_stage(installed: Settings) -> None:
    with open_published(installed) as wh:
        everyone = search_customers(wh, SearchCriteria())
        assert everyone.as_of == AS_OF and everyone.total == 6
        keys = [h.customer_key for h in everyone.hits]
        assert keys == sorted(keys)
        payroll = search_customers(wh, SearchCriteria(tags=("payroll",)))
        assert [h.customer_key for h in payroll.hits] == ["c_payroll"]
        assert search_customers(wh, SearchCriteria(tags=("payroll", "senior"))).total == 0
        dormant = search_customers(wh, SearchCriteria(stage="dormant"))
        assert [h.customer_key for h in dormant.hits] == ["c_dormant"]
        emerging = search_customers(wh, SearchCriteria(segment="asset_size:emerging"))
        assert "c_payroll" in {h.customer_key for h in emerging.hits}
        assert search_customers(wh, SearchCriteria(segment="emerging")).total == emerging.total
        assert search_customers(wh, SearchCriteria(segment="cluster:emerging")).total == 0
        assert len(search_customers(wh, SearchCriteria(limit=2)).hits) == 2
    with pytest.raises(SearchError, match="--lifecycle"):
        SearchCriteria(stage="sleepy")
    with pytest.raises(SearchError, match="--limit"):
        SearchCriteria(limit=0)


def test_search_command_prints_masked_identifiers_only(installed: Settings) -> None:
    found = _cli(installed, "customers", "search", "--tag", "payroll", "--lifecycle", "active",
                 "--json")  # fmt: skip
    assert found["total"] == 1
    (hit,) = found["hits"]
    assert hit["customer_key"] == "c_payroll" and "payroll" in hit["tags"]
    assert hit["stage"] == "active" and hit["segments"]["asset_size"] == "emerging"
    assert set(hit) >= {"name_masked", "mobile_masked", "value_tier", "clv"}
    assert not {"name", "mobile", "id_number"} & set(hit)
    text = _cli(installed, "customers", "search", "--segment", "emerging", "--limit", "1")
    assert "showing 1" in text


def test_bad_date_is_refused(installed: Settings) -> None:
    result = CliRunner().invoke(app, ["understand", "run", "--as-of", "2024-13-01"],
                                env={"NEXTBEST_HOME": str(installed.home)})  # fmt: skip
    assert result.exit_code != 0 and "--as-of" in str(result.exception)


def test_profile_command_as_a_real_process(installed: Settings) -> None:
    env = {**os.environ, "NEXTBEST_HOME": str(installed.home)}
    done = subprocess.run(
        [sys.executable, "-m", "nextbest.cli", "profile", "c_new", "--json"],
        capture_output=True, text=True, env=env, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["lifecycle_stage"] == "new"
