"""Decisioning repositories on SQLite and PostgreSQL: records, counters, DND, policy versions."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest

from nextbest.opstore import OperationalStore
from nextbest.opstore.audit import AuditTrail
from nextbest.opstore.decisions import (
    CapClaim,
    ContactCounters,
    DecisionLog,
    DecisionLogError,
    DoNotDisturbList,
    PolicyRegistry,
    StoredDecision,
    new_decision_id,
)
from nextbest.privacy.keys import KeyRing

WEEK = date(2026, 6, 1)


def _decision(customer: str, product: str | None = "p1") -> StoredDecision:
    return StoredDecision(
        new_decision_id(),
        customer,
        None if product is None else "offer1",
        product,
        "sms",
        "c1",
        0.5,
        None,
        datetime(2026, 6, 2, 10, tzinfo=UTC),
        {"winner": "offer1"},
        {"counts": {}},
        "pv",
        "cv",
        "sv",
    )


def test_decision_record_round_trip_and_outcome(store: OperationalStore) -> None:
    log = DecisionLog(store)
    made = _decision("ck1")
    log.record(made)
    assert log.get(made.decision_id) == made
    at = datetime(2026, 6, 3, tzinfo=UTC)
    updated = log.set_outcome(made.decision_id, "rejected", at)
    assert (updated.outcome, updated.outcome_at) == ("rejected", at)
    assert log.set_outcome(made.decision_id, "rejected").outcome_at == at  # idempotent
    with pytest.raises(DecisionLogError, match="already recorded as 'rejected'"):
        log.set_outcome(made.decision_id, "accepted")
    with pytest.raises(DecisionLogError, match="not one of"):
        log.set_outcome(made.decision_id, "maybe")
    with pytest.raises(DecisionLogError, match="no decision 'nope'"):
        log.get("nope")
    none = _decision("ck2", product=None)
    log.record(none)
    with pytest.raises(DecisionLogError, match="no offer was made"):
        log.set_outcome(none.decision_id, "accepted")
    assert log.rejected_products(["ck1", "ck2"], at - timedelta(days=1)) == {"ck1": {"p1"}}
    assert log.rejected_products(["ck1"], at + timedelta(seconds=1)) == {}
    assert [d.decision_id for d in log.recent("ck1")] == [made.decision_id]


def test_reservation_is_all_or_nothing(store: OperationalStore) -> None:
    counters = ContactCounters(store)
    sms = CapClaim("sms", "week", WEEK, 1)
    overall = CapClaim("all", "month", WEEK, 2)
    assert counters.reserve("ck1", [sms, overall]) is None
    assert counters.reserve("ck1", [CapClaim("email", "week", WEEK, 1), overall]) is None
    # the overall cap is now full: the email reservation taken first must be given back
    assert counters.reserve("ck1", [CapClaim("email", "week", WEEK, 5), overall]) == "all_month"
    assert counters.counts(["ck1", "ck2"], "email", "week", WEEK) == {"ck1": 1}
    assert counters.counts(["ck1"], "all", "month", WEEK) == {"ck1": 2}
    assert counters.reserve("ck1", [sms]) == "sms_week"
    assert counters.reserve("ck1", [CapClaim("sms", "week", WEEK + timedelta(7), 1)]) is None


def test_concurrent_reservations_never_exceed_the_cap(store: OperationalStore) -> None:
    cap = 3
    claims = [CapClaim("sms", "week", WEEK, cap), CapClaim("all", "month", WEEK, 10)]
    wins: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker() -> None:
        own = OperationalStore(store.url)  # its own connection pool
        counters = ContactCounters(own)
        try:
            start.wait()
            for _ in range(6):
                if counters.reserve("ck1", claims) is None:
                    wins.append(1)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(wins) == cap
    counters = ContactCounters(store)
    assert counters.counts(["ck1"], "sms", "week", WEEK) == {"ck1": cap}
    assert counters.counts(["ck1"], "all", "month", WEEK) == {"ck1": cap}


def test_do_not_disturb(store: OperationalStore) -> None:
    dnd = DoNotDisturbList(store)
    dnd.add("ck1", "asked by phone", actor="agent")
    dnd.add("ck1", "again")
    assert dnd.add_many(["ck1", "ck2", "ck3"], "bulk") == 2
    assert dnd.listed(["ck1", "ck2", "ck9"]) == {"ck1", "ck2"}
    assert dnd.remove("ck2") is True
    assert dnd.remove("ck2") is False
    assert dnd.listed(["ck2", "ck3"]) == {"ck3"}


def test_policy_version_and_audit_commit_together(
    store: OperationalStore, keyring: KeyRing
) -> None:
    trail = AuditTrail(store, keyring)
    registry = PolicyRegistry(store, trail)
    first = registry.publish("decision_policy", {"a": 1}, actor="alice", reason="initial")
    second = registry.publish("decision_policy", {"a": 2}, actor="bob", reason="tighter caps")
    assert (first.version, second.version) == (1, 2)
    active = registry.active("decision_policy")
    assert active is not None and active.body == {"a": 2}
    assert [r.status for r in registry.history("decision_policy")] == ["active", "retired"]
    entries = trail.entries(action="policy.publish")
    assert [(e.actor, e.detail["reason"], e.subject_id) for e in entries] == [
        ("bob", "tighter caps", "decision_policy:v2"),
        ("alice", "initial", "decision_policy:v1"),
    ]
    # the audit entry cannot be written (its detail is not JSON): the version rolls back too
    with pytest.raises(TypeError):
        registry.publish(
            "decision_policy", {"a": 3}, actor="eve", reason="x", detail={"o": object()}
        )
    assert [r.version for r in registry.history("decision_policy")] == [2, 1]
    assert registry.active("decision_policy").body == {"a": 2}  # type: ignore[union-attr]
    assert len(trail.entries(action="policy.publish")) == 2
    assert trail.verify_chain().ok
    with pytest.raises(DecisionLogError, match="a reason is required"):
        registry.publish("decision_policy", {"a": 4}, actor="eve", reason=" ")


def test_realtime_transaction_reads_reserves_and_records(store: OperationalStore) -> None:
    from nextbest.opstore.consents import ConsentEvent, ConsentLedger
    from nextbest.opstore.decisions import RealtimeWriter, effective_consents

    at = datetime(2026, 6, 2, 10, tzinfo=UTC)
    ConsentLedger(store).record(
        [
            ConsentEvent("ck1", "marketing", "all", "granted", at - timedelta(days=3), "t"),
            ConsentEvent("ck1", "marketing", "sms", "withdrawn", at - timedelta(days=2), "t"),
            ConsentEvent("ck1", "service", "email", "withdrawn", at - timedelta(days=1), "t"),
            ConsentEvent("ck1", "service", "email", "granted", at - timedelta(days=1), "t"),
        ]
    )
    DoNotDisturbList(store).add("ck1", "asked")
    old = _decision("ck1")
    DecisionLog(store).record(old)
    DecisionLog(store).set_outcome(old.decision_id, "rejected", at - timedelta(days=1))
    ContactCounters(store).reserve("ck1", [CapClaim("sms", "week", WEEK, 5)])
    writer = RealtimeWriter(store)
    made = _decision("ck1")
    try:
        with writer.transaction() as tx:
            read = tx.read("ck1", ["email", "sms"], WEEK, at - timedelta(days=30))
            assert tx.reserve("ck1", [CapClaim("sms", "week", WEEK, 5)]) is None
            assert tx.reserve("ck1", [CapClaim("all", "month", WEEK, 0)]) == "all_month"
            tx.record(made)
    finally:
        writer.close()
    stored = effective_consents(store, ["ck1"], ["email", "sms"])
    assert read.consent == {slot: who["ck1"] for slot, who in stored.items()}
    assert read.consent[("service", "email")] == "withdrawn"  # a withdrawal wins a tie
    assert read.counts == {("sms", "week", WEEK): 1}
    assert read.dnd and read.rejected == frozenset({"p1"})
    assert DecisionLog(store).get(made.decision_id) == made
    assert ContactCounters(store).counts(["ck1"], "sms", "week", WEEK) == {"ck1": 2}


def test_concurrent_realtime_reservations_never_exceed_the_cap(store: OperationalStore) -> None:
    from nextbest.opstore.decisions import RealtimeWriter

    cap = 3
    claims = [CapClaim("sms", "week", WEEK, cap), CapClaim("all", "month", WEEK, 10)]
    wins: list[int] = []
    errors: list[BaseException] = []
    writer = RealtimeWriter(store)  # one writer shared by the threads, as in a server
    start = threading.Barrier(4)

    def worker() -> None:
        try:
            start.wait()
            for _ in range(5):
                with writer.transaction() as tx:
                    if tx.reserve("ck1", claims) is None:
                        wins.append(1)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    assert errors == []
    assert len(wins) == cap
    counters = ContactCounters(store)
    assert counters.counts(["ck1"], "sms", "week", WEEK) == {"ck1": cap}
    assert counters.counts(["ck1"], "all", "month", WEEK) == {"ck1": cap}
