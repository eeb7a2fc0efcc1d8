"""Two sessions (and two threads) against the same database."""

import threading

from nextbest.opstore import OperationalStore
from nextbest.opstore.audit import AuditTrail
from nextbest.opstore.batches import BatchLedger
from nextbest.opstore.vault import PiiVault, VaultRecord
from nextbest.privacy.keys import KeyRing


def test_uncommitted_work_is_invisible_to_another_session(
    store: OperationalStore, keyring: KeyRing
) -> None:
    vault = PiiVault(store, keyring)
    ledger = BatchLedger(store)
    other = OperationalStore(store.url)
    try:
        with store.session() as session:
            ledger.start("b1", "src", "m", "x", session=session)
            vault.put_many([VaultRecord("ck1", mobile="13812341234")], "b1", session=session)
            vault.commit_batch("b1", session=session)
            # still inside the transaction: a second connection sees nothing yet, and (on
            # SQLite too) its read-only session does not wait for the writer's lock
            assert BatchLedger(other).get("b1") is None
            assert PiiVault(other, keyring).find_by("mobile", "13812341234") == set()
        assert BatchLedger(other).get("b1") is not None
        assert PiiVault(other, keyring).find_by("mobile", "13812341234") == {"ck1"}
    finally:
        other.dispose()


def test_parallel_audit_writers_keep_one_chain(store: OperationalStore, keyring: KeyRing) -> None:
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        trail = AuditTrail(OperationalStore(store.url), keyring)
        try:
            for i in range(15):
                trail.append("test.write", "worker", f"{worker}-{i}")
        except BaseException as exc:  # surfaced below, in the main thread
            errors.append(exc)
        finally:
            trail.store.dispose()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    result = AuditTrail(store, keyring).verify_chain()
    assert result.ok, result.problems
    assert result.entries == 45
