from datetime import UTC, datetime, timedelta

import pytest

from nextbest.opstore import OperationalStore
from nextbest.opstore.contacts import ContactHistory, ContactRecord
from nextbest.opstore.inbox import Inbox
from nextbest.opstore.policies import PolicyStore
from nextbest.opstore.users import UserDirectory, UserError

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def test_users_and_roles(store: OperationalStore) -> None:
    users = UserDirectory(store)
    alice = users.add_user("alice", "Alice Wang", ("analyst",))
    assert alice.roles == frozenset({"analyst"})
    users.add_user("bob", "Bob Li", ("analyst",))  # reuses the role
    assert users.grant("alice", "manager").roles == frozenset({"analyst", "manager"})
    assert users.get("alice").roles == frozenset({"analyst", "manager"})  # type: ignore[union-attr]
    assert users.get("nobody") is None
    with pytest.raises(UserError, match="already exists"):
        users.add_user("alice", "again")
    with pytest.raises(UserError, match="does not exist"):
        users.grant("nobody", "x")


def test_policy_versions(store: OperationalStore) -> None:
    policies = PolicyStore(store)
    first = policies.publish("contact_rules", {"max_per_week": 2}, actor="alice")
    second = policies.publish("contact_rules", {"max_per_week": 3})
    assert (first.version, second.version) == (1, 2)
    active = policies.active("contact_rules")
    assert active is not None and active.version == 2 and active.body == {"max_per_week": 3}
    assert len(active.checksum) == 64
    assert policies.active("other") is None


def test_inbox_flow(store: OperationalStore) -> None:
    inbox = Inbox(store)
    a = inbox.put(
        "offer_response", {"offer": "o1", "response": "accept"}, source="api", customer_key="ck1"
    )
    b = inbox.put("address_change", {}, source="crm")
    assert [e.id for e in inbox.waiting()] == [a, b]
    assert inbox.mark_processed([a], "b1") == 1
    assert inbox.mark_processed([a], "b2") == 0  # already taken
    assert [e.id for e in inbox.waiting()] == [b]


def test_contact_counts(store: OperationalStore) -> None:
    history = ContactHistory(store)
    contacts = [ContactRecord("ck1", "sms", T0 + timedelta(days=d)) for d in range(5)]
    contacts.append(ContactRecord("ck2", "email", T0, campaign_id="c1"))
    assert history.record_many(contacts) == 6
    assert history.record_many([]) == 0
    assert history.counts_since(["ck1", "ck2", "ck3"], T0 + timedelta(days=2)) == {"ck1": 3}
    assert history.counts_since(["ck1", "ck2"], T0, channel="email") == {"ck2": 1}
