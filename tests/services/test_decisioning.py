"""Batch and real-time decisions against a real SQLite operational store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from nextbest.config import Settings
from nextbest.decide.errors import DecisionError
from nextbest.decide.policies import load_policy
from nextbest.opstore.consents import ConsentEvent, ConsentLedger
from nextbest.opstore.decisions import ContactCounters, DoNotDisturbList
from nextbest.opstore.store import OperationalStore, open_opstore
from nextbest.privacy.keys import KeyRing
from nextbest.services.decisioning import (
    DecisionService,
    active_rules,
    load_rules_file,
    run_batch,
)

# 11:00 in Shanghai on a Tuesday: outside quiet hours
AT = datetime(2026, 6, 2, 3, 0, tzinfo=UTC)
KEYS = [f"cust{i:07d}" for i in range(40)]


@pytest.fixture
def opstore(settings: Settings) -> Iterator[OperationalStore]:
    store = open_opstore(settings)
    try:
        yield store
    finally:
        store.dispose()


@pytest.fixture
def service(settings: Settings, opstore: OperationalStore) -> DecisionService:
    run_batch(settings, synthetic_customers=300, at=AT, seed=3)
    ConsentLedger(opstore).record(
        [ConsentEvent(k, "marketing", "all", "granted", AT - timedelta(days=9), "t") for k in KEYS]
    )
    return DecisionService(settings, opstore)


def test_batch_writes_parquet_summary_and_serving_pointer(settings: Settings) -> None:
    first = run_batch(settings, synthetic_customers=300, at=AT, seed=3)
    table = pq.read_table(first.path)
    assert table.num_rows == first.customers == 300
    assert table["offer_id"].null_count == 300 - first.with_offer
    assert sum(first.by_offer.values()) == first.with_offer > 0
    assert first.context_source == "synthetic" and first.method == "optimised"
    assert first.violations == ()
    assert set(table.column_names) >= {"customer_key", "offer_id", "policy_version"}
    assert (settings.home / "decisions" / "CURRENT").read_text().count(first.run_id) == 1
    assert not [p for p in (settings.home / "decisions").iterdir() if p.name.startswith(".")]
    second = run_batch(settings, synthetic_customers=300, at=AT, seed=3)
    assert second.run_id != first.run_id
    assert pq.read_table(second.path)["offer_id"].equals(table["offer_id"])


def test_decide_one_reserves_records_and_replays(
    service: DecisionService, opstore: OperationalStore
) -> None:
    made = [service.decide_one(k, {"in_app": "true"}, at=AT) for k in KEYS]
    marketing = [m for m in made if m.decision.campaign_id not in (None, "service")]
    assert marketing, "some customers with consent get a marketing offer"
    for m in made:
        again = service.replay(m.decision_id)
        assert (again.offer_id, again.codes) == (m.decision.offer_id, m.decision.codes)
        stored = service.log.get(m.decision_id)
        assert stored.offer_id == m.decision.offer_id
        assert stored.snapshot_version == "synthetic-3"
    counters = ContactCounters(opstore)
    first = marketing[0].decision
    month = counters.counts([first.customer_key], "all", "month", AT.date().replace(day=1))
    assert month == {first.customer_key: 1}
    with pytest.raises(DecisionError, match="not in serving snapshot"):
        service.decide_one("nobody", at=AT)


def _marketing_customer(service: DecisionService) -> str:
    """The first test customer whose first decision is a marketing offer."""
    return next(
        k
        for k in KEYS
        if service.decide_one(k, at=AT).decision.campaign_id not in (None, "service")
    )


def test_caps_hold_over_repeated_decisions(service: DecisionService) -> None:
    key = _marketing_customer(service)
    offers = [service.log.get(service.log.recent(key)[0].decision_id)]
    decided = [service.decide_one(key, at=AT + timedelta(minutes=i)).decision for i in range(1, 6)]
    marketing = [d for d in offers if d.campaign_id not in (None, "service")]
    marketing += [d for d in decided if d.campaign_id not in (None, "service")]
    assert len(marketing) == 3  # at most 3 marketing contacts a month, and they are used
    channels = [d.channel for d in marketing]
    weekly = {"sms": 1, "email": 1, "phone": 1, "app_push": 2}  # in_app has no own cap
    assert all(channels.count(c) <= weekly.get(c, 3) for c in channels)
    last = decided[-1].explanation.removed_by()
    assert any(rule.startswith("contact.cap_") for rule in last.values())


def test_withdrawal_dnd_and_rejection_take_effect_at_once(
    service: DecisionService, opstore: OperationalStore
) -> None:
    key = _marketing_customer(service)
    first = service.log.recent(key)[0]
    service.record_outcome(first.decision_id, "rejected")
    later = service.decide_one(key, at=AT + timedelta(days=8)).decision
    assert later.explanation.removed_by()[first.offer_id] == "contact.cooldown"
    DoNotDisturbList(opstore).add(key, "asked")
    dnd = service.decide_one(key, at=AT + timedelta(days=9)).decision
    assert dnd.campaign_id in (None, "service")
    ConsentLedger(opstore).record(
        [ConsentEvent(key, "marketing", "all", "withdrawn", AT + timedelta(days=9), "t")]
    )
    DoNotDisturbList(opstore).remove(key)
    withdrawn = service.decide_one(key, at=AT + timedelta(days=10)).decision
    assert withdrawn.campaign_id in (None, "service")
    assert "consent.marketing" in withdrawn.explanation.removed_by().values()


def test_new_snapshot_is_swapped_in(settings: Settings, service: DecisionService) -> None:
    before = service.snapshot.run_id
    run_batch(settings, synthetic_customers=300, at=AT, seed=3)
    assert service.refresh() is True
    assert service.snapshot.run_id != before
    assert service.refresh() is False


def test_policy_load_is_validated_audited_and_replayable(
    settings: Settings, service: DecisionService, opstore: OperationalStore, tmp_path: Path
) -> None:
    keyring = KeyRing.generate()
    old = service.decide_one(KEYS[1], at=AT)
    text = (
        Path(load_policy.__code__.co_filename).with_name("defaults") / "policy.yaml"
    ).read_text()
    stricter = tmp_path / "policy.yaml"
    stricter.write_text(
        text.replace(
            "{channel: all, period: month, max: 3}", "{channel: all, period: month, max: 0}"
        )
    )
    loaded = load_rules_file(opstore, keyring, stricter, actor="alice", reason="pause marketing")
    assert (loaded.kind, loaded.version) == ("policy", 1)
    policy, _ = active_rules(opstore)
    assert policy.version == loaded.content_version != old.decision.versions["policy"]
    fresh = DecisionService(settings, opstore)
    now = fresh.decide_one(KEYS[1], at=AT).decision
    assert now.campaign_id in (None, "service")
    assert fresh.replay(old.decision_id).offer_id == old.decision.offer_id  # old version kept
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace('require: "age >= 18"', 'require: "age >= "'))
    with pytest.raises(DecisionError, match=r"broken\.yaml: eligibility rule 'adult'"):
        load_rules_file(opstore, keyring, broken, actor="alice", reason="oops")


def test_batch_decisions_reach_the_warehouse_with_versions_and_inputs(
    settings: Settings, opstore: OperationalStore
) -> None:
    import json

    from nextbest.services.decisioning import warehouse_decisions

    DoNotDisturbList(opstore).add(KEYS[0], "asked")
    ConsentLedger(opstore).record(
        [ConsentEvent(KEYS[1], "marketing", "sms", "withdrawn", AT - timedelta(days=1), "t")]
    )
    report = run_batch(settings, synthetic_customers=300, at=AT, seed=3)
    rows = warehouse_decisions(settings)
    assert rows.num_rows == report.warehouse_rows == 300
    parquet = pq.read_table(report.path).sort_by("customer_key")
    assert rows["offer_id"].to_pylist() == parquet["offer_id"].to_pylist()
    assert set(rows["run_id"].to_pylist()) == {report.run_id}
    assert set(rows["policy_version"].to_pylist()) == {report.versions["policy"]}
    assert set(rows["snapshot_version"].to_pylist()) == {"synthetic-3"}
    one = warehouse_decisions(settings, customer_key=KEYS[0]).to_pylist()[0]
    assert one["do_not_disturb"] and json.loads(one["operational_inputs"])["do_not_disturb"]
    two = json.loads(
        warehouse_decisions(settings, customer_key=KEYS[1])["operational_inputs"][0].as_py()
    )
    assert two["consent"]["marketing:sms"] == 0  # the stored withdrawal, read by the run
    assert set(two["counts"]) == {c.name for c in active_rules(opstore)[0].spec.contact.caps}
    has = [r for r in rows.to_pylist() if r["offer_id"] is not None]
    assert has and all(r["product_id"] and r["removed_offers"] < 15 for r in has)
    later = run_batch(settings, synthetic_customers=300, at=AT + timedelta(days=1), seed=3)
    assert warehouse_decisions(settings)["run_id"][0].as_py() == later.run_id
    assert warehouse_decisions(settings, run_id=report.run_id).num_rows == 300


def test_serving_snapshot_reuses_the_batch_screen_of_its_day(service: DecisionService) -> None:
    snap = service.snapshot
    day = AT.astimezone(snap.engine.tz).date()
    assert day in snap._static  # loaded with the run, not recomputed on the first call
    assert (snap._static[day] == snap.engine.static_codes(snap.context, day)).all()


def test_concurrent_decisions_for_one_customer_never_exceed_a_cap(
    service: DecisionService, opstore: OperationalStore
) -> None:
    import threading

    key = _marketing_customer(service)  # one marketing contact already taken
    made: list[str | None] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def worker(offset: int) -> None:
        try:
            start.wait()
            for i in range(4):
                at = AT + timedelta(minutes=10 * offset + i + 1)
                made.append(service.decide_one(key, at=at).decision.campaign_id)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(made) == 16
    marketing = [c for c in made if c not in (None, "service")]
    assert len(marketing) == 2  # 3 a month: the first decision took one, 16 racers share 2
    month = ContactCounters(opstore).counts([key], "all", "month", AT.date().replace(day=1))
    assert month == {key: 3}
