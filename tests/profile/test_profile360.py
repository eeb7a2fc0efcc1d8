"""The one-customer profile, in Python and through the CLI (a real process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from nextbest.config import Settings
from nextbest.profile.profile360 import ProfileNotFoundError, customer_profile
from nextbest.services.stores import init_installation
from nextbest.warehouse.duckdb import DuckDBWarehouse
from tests.profile.bank import AS_OF, T_LOAD, load_bank


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NEXTBEST_HOME": str(settings.home)}
    return subprocess.run(
        [sys.executable, "-m", "nextbest.cli", *args],
        capture_output=True, text=True, env=env, check=False, timeout=300,
    )  # fmt: skip


def test_profile_and_commands(settings: Settings) -> None:
    init_installation(settings)
    wh = DuckDBWarehouse(settings.warehouse_file, settings.timezone)
    load_bank(wh)
    wh.close()
    cutoff = T_LOAD.isoformat()
    done = _cli(settings, "understand", "run", "--as-of", AS_OF.isoformat(),
                "--load-cutoff", cutoff, "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["customers"] == 6 and report["stages"]["mature"] == 1

    wh = DuckDBWarehouse(settings.warehouse_file, settings.timezone, read_only=True)
    p = customer_profile(wh, "c_payroll")
    assert p.as_of == AS_OF and p.lifecycle_stage == "active" and p.lifecycle_stage_zh == "活跃"
    assert {t.code for t in p.tags} >= {"payroll", "young"}
    assert p.segments["asset_size"] == "emerging" and p.rfm is not None and p.value is not None
    assert p.features["salary_months_6m"] == 6
    with pytest.raises(ProfileNotFoundError, match="c_nobody"):
        customer_profile(wh, "c_nobody")
    wh.close()

    shown = _cli(settings, "profile", "c_payroll", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["lifecycle_stage"] == "active"
    listed = json.loads(_cli(settings, "tags", "list", "--json").stdout)
    assert any(t["code"] == "payroll" and t["zh"] == "代发工资客户" for t in listed)
    why = _cli(settings, "tags", "explain", "c_payroll", "--tag", "payroll", "--json")
    assert why.returncode == 0, why.stderr
    (entry,) = json.loads(why.stdout)
    assert entry["tagged"] is True and entry["explanation"]["columns"] == [["salary_months_6m", 6]]
    bad = _cli(settings, "understand", "run", "--as-of", "2024-13-01")
    assert bad.returncode != 0 and "--as-of" in (bad.stderr + bad.stdout)
