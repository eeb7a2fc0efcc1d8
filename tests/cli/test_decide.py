"""``nextbest decide|offers|policies`` end to end through the real commands (SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from nextbest.cli.decide import register
from nextbest.config import load_settings
from nextbest.privacy.keys import init_keys


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_decide_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXTBEST_HOME", str(tmp_path / "nb"))
    monkeypatch.delenv("NEXTBEST_MASTER_KEY", raising=False)
    init_keys(load_settings())
    run = CliRunner().invoke
    batch = run(_app(), ["decide", "batch", "--customers", "200", "--json"])
    assert batch.exit_code == 0, batch.output
    report = json.loads(batch.output)
    assert report["customers"] == 200 and Path(report["path"]).is_file()
    one = run(_app(), ["decide", "one", "cust0000005", "--channel-context", "in_app", "--json"])
    assert one.exit_code == 0, one.output
    decision = json.loads(one.output)
    assert len(decision["explanation"]["verdicts"]) == 15
    bad = run(_app(), ["decide", "one", "cust0000005", "--context", "novalue"])
    assert bad.exit_code != 0 and "KEY=VALUE" in str(bad.exception)
    offers = json.loads(run(_app(), ["offers", "list", "--json"]).output)
    assert len(offers) == 15
    policy = Path(__file__).resolve().parents[2] / "src/nextbest/decide/defaults/policy.yaml"
    loaded = run(_app(), ["policies", "load", str(policy), "--reason", "first", "--json"])
    assert loaded.exit_code == 0, loaded.output
    assert json.loads(loaded.output)["version"] == 1
    listed = json.loads(run(_app(), ["policies", "list", "--json"]).output)
    assert [v["status"] for v in listed["versions"]] == ["active"]
    if decision["offer_id"] is not None:
        out = run(_app(), ["decide", "outcome", decision["decision_id"], "rejected", "--json"])
        assert json.loads(out.output)["outcome"] == "rejected"
    else:
        out = run(_app(), ["decide", "outcome", decision["decision_id"], "rejected"])
        assert "no offer was made" in str(out.exception)
