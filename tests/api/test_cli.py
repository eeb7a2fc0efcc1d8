"""The shell commands: serve (a real process), demo-users, users, audit tail."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from nextbest.cli.main import app
from tests.api.world import build_installation, settings_for


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    settings = settings_for(tmp_path / "home", f"sqlite:///{tmp_path / 'home' / 'opstore.sqlite'}")
    store, _ = build_installation(settings)
    store.dispose()
    monkeypatch.setenv("NEXTBEST_HOME", str(settings.home))
    return settings.home


def test_demo_users_users_list_and_audit_tail(home: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(app, ["demo-users", "--json"])
    assert created.exit_code == 0, created.output
    logins = json.loads(created.stdout)
    assert len(logins) == 7 and all(len(x["password"]) == 20 for x in logins)
    again = runner.invoke(app, ["demo-users", "--json"])
    assert json.loads(again.stdout) == []  # existing demo users keep their passwords
    listed = json.loads(runner.invoke(app, ["users", "list", "--json"]).stdout)
    assert {u["username"] for u in listed} == {x["username"] for x in logins}
    tail = json.loads(runner.invoke(app, ["audit", "tail", "-n", "2", "--json"]).stdout)
    assert [e["action"] for e in tail] == ["user.create", "user.create"]
    made = runner.invoke(
        app,
        ["users", "create", "li.na", "--role", "analyst", "--json"],
        input="a long pass phrase 42\na long pass phrase 42\n",
    )
    assert made.exit_code == 0, made.output
    assert '"roles": [\n    "analyst"\n  ]' in made.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_health_and_metrics(home: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "nextbest.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "NEXTBEST_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "server did not start in 60 s"
                time.sleep(0.2)
        assert health.json()["status"] == "ok"
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'route="/api/v1/health"' in metrics
    finally:
        process.terminate()
        process.wait(timeout=30)
