"""kill -9 of a real ``nextbest serve`` in the middle of a consent withdrawal and of a policy
change: each is applied with its audit entry or not at all, and the audit chain verifies.

The server runs with ``NEXTBEST_CRASH_AT`` naming a crash point inside the service's
transaction (after both writes were flushed, before the commit). The point writes a marker
file and blocks; the test waits for the marker, SIGKILLs the server, then inspects the store.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from nextbest.api.context import ApiContext
from nextbest.config import Settings
from nextbest.opstore.consents import ConsentLedger
from nextbest.security.permissions import Role
from nextbest.services.audit import AuditFilter
from tests.api.conftest import PASSWORD, decisions_dir  # noqa: F401
from tests.api.world import build_installation, install_decisions, settings_for

# Generous: the server imports the whole stack, and CI machines are shared.
START_TIMEOUT = 60.0
MARKER_TIMEOUT = 30.0


@pytest.fixture
def installation(tmp_path: Path, decisions_dir: Path):  # type: ignore[no-untyped-def]  # noqa: F811
    """SQLite only: each case starts a server process, and the point is the kill, not the
    backend (both backends' transactions are covered by the opstore contract suite)."""
    settings = settings_for(tmp_path / "home", f"sqlite:///{tmp_path / 'opstore.sqlite'}")
    store, keyring = build_installation(settings)
    install_decisions(settings, decisions_dir)
    try:
        yield settings, store, keyring
    finally:
        store.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(settings: Settings, crash_at: str, marker: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {
        **os.environ,
        "NEXTBEST_HOME": str(settings.home),
        "NEXTBEST_OPSTORE_URL": settings.opstore,
        "NEXTBEST_CRASH_AT": crash_at,
        "NEXTBEST_CRASH_MARKER": str(marker),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "nextbest.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=1.0).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("nextbest serve did not start")


def _kill_mid_request(
    settings: Settings, crash_at: str, method: str, path: str, body: object, token: str
) -> None:
    marker = settings.home / "crash.marker"
    process, base = _serve(settings, crash_at, marker)
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(
                httpx.request(
                    method,
                    base + path,
                    json=body,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=30.0,
                )
            )
        except httpx.TransportError as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call)
    try:
        caller.start()
        deadline = time.monotonic() + MARKER_TIMEOUT
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert marker.read_text().startswith(crash_at), "crash point not reached"
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
        caller.join(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert len(outcome) == 1 and isinstance(outcome[0], httpx.TransportError), outcome


def _user_token(context: ApiContext, role: Role) -> str:
    name = f"{role.value.replace('_', '.')}.user"
    context.users.create_user(name, role.value, [role.value], PASSWORD, actor="test")
    return context.users.login(name, PASSWORD).access_token


@pytest.mark.parametrize("crash_at", ["consent.record.audit_written"])
def test_consent_withdrawal_killed_mid_transaction(installation, crash_at: str) -> None:  # type: ignore[no-untyped-def]
    settings, store, _keyring = installation
    context = ApiContext.open(settings)
    try:
        token = _user_token(context, Role.SERVICE_AGENT)
        context.consents.record("ckaaaa", "marketing", "sms", "granted", actor="test")
        entries_before = len(context.audit.entries(limit=1000))
    finally:
        context.close()
    body = {"purpose": "marketing", "channel": "sms", "status": "withdrawn"}
    _kill_mid_request(settings, crash_at, "POST", "/api/v1/customers/ckaaaa/consents", body, token)
    context = ApiContext.open(settings)
    try:
        state = ConsentLedger(store).state("ckaaaa", "marketing", "sms")
        withdrawn = context.audit.entries(AuditFilter(action="consent.withdrawn"))
        # neither half: still granted, no withdrawal entry, chain intact
        assert state is not None and state.status == "granted"
        assert withdrawn == []
        assert len(context.audit.entries(limit=1000)) == entries_before
        assert context.audit.verify().ok
        # the restarted installation applies the same withdrawal whole
        context.consents.record("ckaaaa", "marketing", "sms", "withdrawn", actor="test")
        assert ConsentLedger(store).state("ckaaaa", "marketing", "sms").status == "withdrawn"  # type: ignore[union-attr]
        assert len(context.audit.entries(AuditFilter(action="consent.withdrawn"))) == 1
        assert context.audit.verify().ok
    finally:
        context.close()


@pytest.mark.parametrize("crash_at", ["policy.publish.audit_written"])
def test_policy_change_killed_mid_transaction(installation, crash_at: str) -> None:  # type: ignore[no-untyped-def]
    settings, _store, _keyring = installation
    context = ApiContext.open(settings)
    try:
        token = _user_token(context, Role.APPROVER)
        context.policy_admin.publish("contact_policy", {"max_contacts_per_week": 2}, actor="t")
    finally:
        context.close()
    body = {"body": {"max_contacts_per_week": 5}}
    _kill_mid_request(settings, crash_at, "PUT", "/api/v1/policies/contact_policy", body, token)
    context = ApiContext.open(settings)
    try:
        active = context.policy_admin.active("contact_policy")
        assert (active.version, dict(active.body)) == (1, {"max_contacts_per_week": 2})
        published = context.audit.entries(AuditFilter(action="policy.publish"))
        assert [e.detail["version"] for e in published] == [1]
        assert context.audit.verify().ok
    finally:
        context.close()
