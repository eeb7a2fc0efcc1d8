from sqlalchemy import text

from nextbest.opstore import OperationalStore
from nextbest.opstore.audit import AuditTrail
from nextbest.privacy.keys import KeyRing


def _filled(store: OperationalStore, keyring: KeyRing, n: int = 5) -> AuditTrail:
    trail = AuditTrail(store, keyring)
    for i in range(n):
        trail.append("policy.publish", "policy", f"p{i}", {"version": i, "名": "值"}, actor="alice")
    return trail


def test_intact_chain_verifies(store: OperationalStore, keyring: KeyRing) -> None:
    trail = _filled(store, keyring)
    result = trail.verify_chain()
    assert result.ok, result.problems
    assert result.entries == 5
    newest = trail.entries(limit=2)
    assert [e.seq for e in newest] == [5, 4]
    assert trail.entries(subject_id="p1")[0].detail == {"version": 1, "名": "值"}
    assert AuditTrail(store, keyring).verify_chain().ok  # empty-log head also verifies


def test_edited_row_is_detected(store: OperationalStore, keyring: KeyRing) -> None:
    trail = _filled(store, keyring)
    with store.session() as s:
        s.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3"))
    result = trail.verify_chain()
    assert not result.ok
    assert any("seq 3" in p and "altered" in p for p in result.problems)


def test_deleted_middle_row_is_detected(store: OperationalStore, keyring: KeyRing) -> None:
    trail = _filled(store, keyring)
    with store.session() as s:
        s.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    problems = trail.verify_chain().problems
    assert any("missing" in p for p in problems)
    assert any("seq 3" in p and "link" in p for p in problems)


def test_cut_tail_is_detected(store: OperationalStore, keyring: KeyRing) -> None:
    trail = _filled(store, keyring)
    with store.session() as s:
        s.execute(text("DELETE FROM audit_log WHERE seq = 5"))
    assert any("audit_head" in p for p in trail.verify_chain().problems)


def test_another_key_cannot_verify(store: OperationalStore, keyring: KeyRing) -> None:
    _filled(store, keyring, 2)
    assert not AuditTrail(store, KeyRing.generate()).verify_chain().ok
