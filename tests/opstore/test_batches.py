import pytest

from nextbest.opstore import OperationalStore
from nextbest.opstore.batches import BatchCounts, BatchLedger, BatchLedgerError


def test_lifecycle_and_checksum_lookup(store: OperationalStore) -> None:
    ledger = BatchLedger(store)
    started = ledger.start("b1", "/data/export", "sample_bank", "c" * 64)
    assert started.status == "started" and started.finished_at is None
    assert started.started_at.tzinfo is not None
    assert [b.batch_id for b in ledger.unfinished()] == ["b1"]
    assert ledger.committed_with_checksum("c" * 64) is None

    done = ledger.finish(
        "b1",
        BatchCounts(
            rows_read=10,
            rows_loaded=8,
            rows_flagged=1,
            rows_rejected=1,
            files={"customers.csv": {"rows": 10}},
        ),
    )
    assert done.status == "committed" and done.finished_at is not None
    assert done.rows_loaded == 8 and done.files == {"customers.csv": {"rows": 10}}
    assert ledger.unfinished() == []
    found = ledger.committed_with_checksum("c" * 64)
    assert found is not None and found.batch_id == "b1" and found.rows_rejected == 1


def test_counts_as_mapping_and_unknown_fields(store: OperationalStore) -> None:
    ledger = BatchLedger(store)
    ledger.start("b1", "src", "m", "x")
    assert ledger.finish("b1", {"rows_read": 3, "rows_queued": 2}).rows_queued == 2
    ledger.start("b2", "src", "m", "y")
    with pytest.raises(BatchLedgerError, match="rows_bogus"):
        ledger.finish("b2", {"rows_bogus": 1})


def test_status_transitions_are_checked(store: OperationalStore) -> None:
    ledger = BatchLedger(store)
    ledger.start("b1", "src", "m", "x")
    with pytest.raises(BatchLedgerError, match="already exists"):
        ledger.start("b1", "src", "m", "x")
    failed = ledger.mark("b1", "failed", message="row 7: bad date")
    assert failed.status == "failed" and failed.message == "row 7: bad date"
    assert ledger.mark("b1", "discarded").status == "discarded"
    with pytest.raises(BatchLedgerError, match="from discarded to committed"):
        ledger.mark("b1", "committed")
    with pytest.raises(BatchLedgerError, match="not in the ledger"):
        ledger.mark("nope", "failed")
    with pytest.raises(BatchLedgerError, match="unknown status"):
        ledger.mark("b1", "weird")  # type: ignore[arg-type]
    ledger.start("b2", "src", "m", "x")
    ledger.finish("b2", BatchCounts())
    with pytest.raises(BatchLedgerError, match="from committed"):
        ledger.mark("b2", "discarded")
    # a failed batch with the same checksum never counts as already loaded
    assert ledger.committed_with_checksum("x") is not None
    assert ledger.get("b1") is not None and ledger.get("zz") is None


def test_recent_is_newest_first(store: OperationalStore) -> None:
    ledger = BatchLedger(store)
    for i in range(5):
        ledger.start(f"b{i}", "src", "m", str(i))
    assert [b.batch_id for b in ledger.recent(3)] == ["b4", "b3", "b2"]


def test_joins_the_callers_transaction(store: OperationalStore) -> None:
    ledger = BatchLedger(store)
    with pytest.raises(RuntimeError), store.session() as session:
        ledger.start("b1", "src", "m", "x", session=session)
        raise RuntimeError("warehouse failed")
    assert ledger.get("b1") is None
