"""Tampering with audit entries directly in the database is detected by `audit verify`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable

import pytest
from sqlalchemy import text

from nextbest.services.audit import AuditService, anchor_path
from tests.api.conftest import decisions_dir, installation, store_url  # noqa: F401


@pytest.fixture
def audit(installation) -> AuditService:  # type: ignore[no-untyped-def]  # noqa: F811
    settings, store, keyring = installation
    service = AuditService(store, keyring, anchor_path(settings.home))
    for n in range(1, 6):
        service.record("policy.publish", "policy", f"p{n}", {"version": n}, actor="approver")
    assert service.verify().ok
    return service


def _edit(s) -> None:  # type: ignore[no-untyped-def]
    s.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3"))


def _delete(s) -> None:  # type: ignore[no-untyped-def]
    s.execute(text("DELETE FROM audit_log WHERE seq = 2"))


def _reorder(s) -> None:  # type: ignore[no-untyped-def]
    # swap the contents of entries 2 and 4, keeping their MACs in place
    rows = {
        r.seq: r
        for r in s.execute(
            text("SELECT seq, subject_id, detail FROM audit_log WHERE seq IN (2, 4)")
        )
    }
    for seq, other in ((2, 4), (4, 2)):
        detail = rows[other].detail
        s.execute(
            text("UPDATE audit_log SET subject_id = :sid, detail = :detail WHERE seq = :seq"),
            {
                "sid": rows[other].subject_id,
                "detail": detail if isinstance(detail, str) else json.dumps(detail),
                "seq": seq,
            },
        )


def _truncate(s) -> None:  # type: ignore[no-untyped-def]
    s.execute(text("DELETE FROM audit_log WHERE seq >= 4"))


def _wipe(s) -> None:  # type: ignore[no-untyped-def]
    # everything including the head row: only the anchor file can tell
    s.execute(text("DELETE FROM audit_log"))
    s.execute(text("DELETE FROM audit_head"))


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (_edit, "audit_log seq 3: content was altered"),
        (_delete, "audit_log: entries 2..2 are missing"),
        (_reorder, "audit_log seq 2: content was altered"),
        (_truncate, "audit_log seq 5: anchored but missing"),
        (_wipe, "audit_log seq 5: anchored but missing"),
    ],
    ids=["edit", "delete", "reorder", "truncate", "wipe"],
)
def test_tampering_is_detected(
    audit: AuditService, tamper: Callable[..., None], expected: str
) -> None:
    with audit.store.session() as s:
        tamper(s)
    result = audit.verify()
    assert not result.ok
    assert any(expected in p for p in result.problems), result.problems


def test_verify_cli_names_the_entry_and_exits_1(installation) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    settings, store, keyring = installation
    service = AuditService(store, keyring, anchor_path(settings.home))
    service.record("user.create", "user", "li.na", actor="admin")
    service.record("user.roles", "user", "li.na", actor="admin")
    env = {**os.environ, "NEXTBEST_HOME": str(settings.home), "NEXTBEST_OPSTORE_URL": store.url}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "nextbest.cli", "audit", *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=120,
        )

    ok = run("verify", "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ok"] is True
    with store.session() as s:
        s.execute(text("UPDATE audit_log SET subject_id = 'wang' WHERE seq = 1"))
    broken = run("verify", "--json")
    assert broken.returncode == 1
    assert json.loads(broken.stdout)["problems"] == [
        "audit_log seq 1: content was altered (MAC mismatch)"
    ]
