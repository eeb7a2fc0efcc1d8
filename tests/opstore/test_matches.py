import pytest

from nextbest.opstore import OperationalStore
from nextbest.opstore.matches import MatchError, MatchQueue, NewMatch


def test_add_list_resolve(store: OperationalStore) -> None:
    queue = MatchQueue(store)
    found = [NewMatch("in1", "ex1", "mobile"), NewMatch("in2", "ex2", "id_number", 0.9)]
    assert queue.add_many("b1", found) == 2
    assert queue.add_many("b1", found) == 0  # idempotent per batch
    assert queue.add_many("b1", []) == 0
    open_ = queue.list()
    assert [(m.incoming_customer_key, m.matched_on) for m in open_] == [
        ("in1", "mobile"),
        ("in2", "id_number"),
    ]
    merged = queue.resolve(open_[0].id, "merged", actor="ops", note="same person")
    assert merged.status == "merged" and merged.resolved_by == "ops"
    assert merged.resolved_at is not None
    assert [m.id for m in queue.list()] == [open_[1].id]
    assert len(queue.list(status=None, batch_id="b1")) == 2
    with pytest.raises(MatchError, match="already merged"):
        queue.resolve(open_[0].id, "dismissed")
    with pytest.raises(MatchError, match="does not exist"):
        queue.resolve(999_999, "dismissed")
    with pytest.raises(MatchError, match="cannot resolve"):
        queue.resolve(open_[1].id, "open")  # type: ignore[arg-type]
