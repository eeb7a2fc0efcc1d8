from datetime import UTC, datetime, timedelta

import pytest

from nextbest.opstore import OperationalStore
from nextbest.opstore.consents import ConsentError, ConsentEvent, ConsentLedger

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def ev(customer: str, status: str, minutes: int, channel: str = "sms") -> ConsentEvent:
    return ConsentEvent(
        customer, "marketing", channel, status, T0 + timedelta(minutes=minutes), "core"
    )


def test_latest_event_wins(store: OperationalStore) -> None:
    ledger = ConsentLedger(store)
    assert ledger.record([ev("c1", "granted", 0), ev("c1", "withdrawn", 10)]) == 2
    assert ledger.state("c1", "marketing", "sms").status == "withdrawn"  # type: ignore[union-attr]
    ledger.record([ev("c1", "granted", 20)], batch_id="b1")
    state = ledger.state("c1", "marketing", "sms")
    assert state is not None and state.granted and state.event_time == T0 + timedelta(minutes=20)
    # a late-arriving older event does not override a newer one
    ledger.record([ev("c1", "withdrawn", 5)])
    assert ledger.state("c1", "marketing", "sms").granted  # type: ignore[union-attr]
    assert ledger.state("c1", "marketing", "email") is None
    assert ledger.state("c9", "marketing", "sms") is None


def test_withdrawal_wins_a_tie(store: OperationalStore) -> None:
    ledger = ConsentLedger(store)
    ledger.record([ev("c1", "withdrawn", 0)])
    ledger.record([ev("c1", "granted", 0)])  # same instant, recorded later
    assert not ledger.state("c1", "marketing", "sms").granted  # type: ignore[union-attr]


def test_all_channels_event_applies_to_each_channel(store: OperationalStore) -> None:
    ledger = ConsentLedger(store)
    ledger.record([ev("c1", "granted", 0, "sms"), ev("c1", "withdrawn", 5, "all")])
    assert not ledger.state("c1", "marketing", "sms").granted  # type: ignore[union-attr]
    ledger.record([ev("c1", "granted", 9, "email")])
    assert ledger.state("c1", "marketing", "email").granted  # type: ignore[union-attr]
    current = {(s.purpose, s.channel): s.status for s in ledger.current("c1")}
    assert current == {
        ("marketing", "all"): "withdrawn",
        ("marketing", "email"): "granted",
        ("marketing", "sms"): "granted",
    }


def test_permitted_in_bulk(store: OperationalStore) -> None:
    ledger = ConsentLedger(store)
    events = []
    for i in range(1_500):  # more than one IN-list chunk
        events.append(ev(f"c{i}", "granted", 0))
        if i % 3 == 0:
            events.append(ev(f"c{i}", "withdrawn", 1))
    ledger.record(events)
    permitted = ledger.permitted([f"c{i}" for i in range(1_600)], "marketing", "sms")
    assert permitted == {f"c{i}" for i in range(1_500) if i % 3}


def test_bad_events_are_rejected_with_position(store: OperationalStore) -> None:
    ledger = ConsentLedger(store)
    bad = ConsentEvent("c1", "spam", "sms", "granted", T0, "core")
    with pytest.raises(ConsentError, match=r"event 2 .*purpose 'spam'"):
        ledger.record([ev("c1", "granted", 0), bad])
    naive = ConsentEvent("c1", "marketing", "sms", "granted", datetime(2026, 1, 1), "core")
    with pytest.raises(ConsentError, match="time zone"):
        ledger.record([naive])
    with pytest.raises(ConsentError, match="channel"):
        ledger.record([ConsentEvent("c1", "marketing", "fax", "granted", T0, "core")])
    with pytest.raises(ConsentError, match="status"):
        ledger.record([ConsentEvent("c1", "marketing", "sms", "maybe", T0, "core")])
    assert ledger.current("c1") == []
    assert ledger.record([]) == 0
