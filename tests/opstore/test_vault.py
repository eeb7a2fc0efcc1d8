import time

import pytest
from sqlalchemy import func, select, text

from nextbest.config import Settings
from nextbest.errors import NextbestError
from nextbest.opstore import OperationalStore
from nextbest.opstore.audit import AuditTrail
from nextbest.opstore.models import VaultEntry, VaultKey
from nextbest.opstore.vault import LegalHoldError, PiiVault, VaultError, VaultRecord
from nextbest.privacy.crypto import DecryptionError
from nextbest.privacy.keys import KeyRing

ZHANG = VaultRecord(
    "ck-zhang", "张三", "resident_id", "11010119900307123X", "13812341234", "zhangsan@example.com"
)
LI = VaultRecord("ck-li", "李四", "passport", "E12345678", "+86 139 0000 1111", None)


def _loaded(store: OperationalStore, keyring: KeyRing) -> PiiVault:
    vault = PiiVault(store, keyring)
    vault.put_many([ZHANG, LI], "b1")
    vault.commit_batch("b1")
    return vault


def test_put_is_pending_until_commit(store: OperationalStore, keyring: KeyRing) -> None:
    vault = PiiVault(store, keyring)
    vault.put_many([ZHANG, LI], "b1")
    assert vault.pending_batch_ids() == {"b1"}
    assert vault.find_by("mobile", "13812341234") == set()
    with pytest.raises(VaultError, match="no committed"):
        vault.reveal("ck-zhang")
    assert vault.commit_batch("b1") == 2
    assert vault.pending_batch_ids() == set()
    assert vault.reveal("ck-zhang") == ZHANG
    assert vault.reveal("ck-li").mobile == "+86 139 0000 1111"


def test_no_plaintext_in_the_database(store: OperationalStore, keyring: KeyRing) -> None:
    _loaded(store, keyring)
    with store.session() as s:
        blobs = s.scalars(select(VaultEntry.ciphertext)).all()
    for blob in blobs:
        for needle in ("张三".encode(), b"13812341234", b"11010119900307123X", b"zhangsan"):
            assert needle not in blob


def test_blind_index_lookup(store: OperationalStore, keyring: KeyRing) -> None:
    vault = _loaded(store, keyring)
    assert vault.find_by("mobile", "+8613812341234") == {"ck-zhang"}
    assert vault.find_by("id_number", "11010119900307123x") == {"ck-zhang"}
    assert vault.find_by("mobile", "13900001111") == {"ck-li"}
    assert vault.find_by("mobile", "13700000000") == set()
    matches = vault.existing_matches("mobile", ["138 1234 1234", "13900001111", "1", ""])
    assert matches == {"138 1234 1234": {"ck-zhang"}, "13900001111": {"ck-li"}}
    with pytest.raises(VaultError, match="name"):
        vault.existing_matches("name", ["张三"])  # type: ignore[arg-type]


def test_new_version_replaces_lookup_and_reuses_data_key(
    store: OperationalStore, keyring: KeyRing
) -> None:
    vault = _loaded(store, keyring)
    with store.session() as s:
        first_key = s.scalar(
            select(VaultKey.wrapped_key).where(VaultKey.customer_key == "ck-zhang")
        )
    moved = VaultRecord("ck-zhang", "张三", "resident_id", "11010119900307123X", "13700000000")
    vault.put_many([moved], "b2")
    assert vault.reveal("ck-zhang").mobile == "13812341234"  # b2 not committed yet
    vault.commit_batch("b2")
    assert vault.reveal("ck-zhang") == moved
    assert vault.find_by("mobile", "13812341234") == set()  # old version no longer current
    assert vault.find_by("mobile", "13700000000") == {"ck-zhang"}
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(VaultKey)) == 2
        assert (
            s.scalar(select(VaultKey.wrapped_key).where(VaultKey.customer_key == "ck-zhang"))
            == first_key
        )
        assert s.scalar(select(func.count()).select_from(VaultEntry)) == 3


def test_duplicates_and_re_put_in_one_batch(store: OperationalStore, keyring: KeyRing) -> None:
    vault = PiiVault(store, keyring)
    older = VaultRecord("ck-x", name="旧")
    vault.put_many([older, VaultRecord("ck-x", name="新")], "b1")
    vault.put_many([VaultRecord("ck-x", name="最新")], "b1")
    vault.commit_batch("b1")
    assert vault.reveal("ck-x").name == "最新"
    vault.put_many([], "b2")


def test_discard_removes_pending_and_orphan_keys(store: OperationalStore, keyring: KeyRing) -> None:
    vault = _loaded(store, keyring)
    vault.put_many([VaultRecord("ck-new", name="王五"), VaultRecord("ck-zhang", name="改")], "b2")
    assert vault.discard_batch("b2") == 2
    assert vault.pending_batch_ids() == set()
    assert vault.reveal("ck-zhang") == ZHANG
    with store.session() as s:
        keys = set(s.scalars(select(VaultKey.customer_key)))
    assert keys == {"ck-zhang", "ck-li"}


def test_erase_shreds_and_tombstones(store: OperationalStore, keyring: KeyRing) -> None:
    vault = _loaded(store, keyring)
    assert vault.reveal("ck-li", actor="agent7", purpose="kyc review") == LI
    tomb = vault.erase("ck-zhang", "customer request (PIPL art. 47)", actor="dpo")
    assert tomb.erased_by == "dpo" and tomb.erased_at.tzinfo is not None
    assert vault.tombstoned(["ck-zhang", "ck-li", "ck-none"]) == {"ck-zhang"}
    assert vault.tombstone("ck-zhang") is not None and vault.tombstone("ck-li") is None
    assert vault.find_by("mobile", "13812341234") == set()
    with pytest.raises(VaultError, match="erased"):
        vault.reveal("ck-zhang")
    with pytest.raises(VaultError, match="erased"):
        vault.put_many([ZHANG], "b9")
    with store.session() as s:
        left = s.execute(
            text("SELECT count(*) FROM vault_entry WHERE customer_key = 'ck-zhang'")
        ).scalar()
        assert left == 0
        assert s.get(VaultKey, "ck-zhang") is None
    assert vault.erase("ck-zhang", "again").reason == tomb.reason  # idempotent
    actions = [e.action for e in AuditTrail(store, keyring).entries()]
    assert "vault.erase" in actions and "vault.reveal" in actions
    assert AuditTrail(store, keyring).verify_chain().ok


def test_legal_hold_blocks_erasure(store: OperationalStore, keyring: KeyRing) -> None:
    vault = _loaded(store, keyring)
    vault.place_legal_hold("ck-li", "court order 2026-17", actor="legal")
    assert vault.on_legal_hold("ck-li")
    with pytest.raises(LegalHoldError, match="legal hold"):
        vault.erase("ck-li", "request")
    assert vault.reveal("ck-li") == LI
    assert vault.release_legal_hold("ck-li", actor="legal") == 1
    assert not vault.on_legal_hold("ck-li")
    vault.erase("ck-li", "request")
    assert vault.tombstoned(["ck-li"]) == {"ck-li"}


def test_rotation_rewraps_and_keeps_everything_readable(
    store: OperationalStore, keyring: KeyRing
) -> None:
    vault = _loaded(store, keyring)
    assert vault.rotate_master_key() == 2
    with store.session() as s:
        assert set(s.scalars(select(VaultKey.master_version))) == {2}
    assert vault.reveal("ck-zhang") == ZHANG
    # a fresh process reads the rotated key file
    assert keyring.source is not None
    reloaded = KeyRing.load(Settings(home=keyring.source.parent, master_key_file=keyring.source))
    assert reloaded.master_versions == (1, 2) and reloaded.current_master_version == 2
    assert PiiVault(store, reloaded).reveal("ck-li") == LI
    vault.put_many([VaultRecord("ck-new", name="王五")], "b2")
    vault.commit_batch("b2")
    assert vault.reveal("ck-new").name == "王五"
    # without the new master version nothing opens
    stale = KeyRing(
        {1: keyring.master_key(1)},
        1,
        keyring.pseudonym_key,
        keyring.blind_index_key,
        keyring.audit_key,
    )
    with pytest.raises(NextbestError, match="version 2"):
        PiiVault(store, stale).reveal("ck-zhang")


def test_swapped_ciphertext_does_not_decrypt(store: OperationalStore, keyring: KeyRing) -> None:
    vault = _loaded(store, keyring)
    with store.session() as s:
        blob = s.scalar(select(VaultEntry.ciphertext).where(VaultEntry.customer_key == "ck-li"))
        s.execute(
            VaultEntry.__table__.update()
            .where(VaultEntry.customer_key == "ck-zhang")
            .values(ciphertext=blob)
        )
    with pytest.raises(DecryptionError, match="ck-zhang"):
        vault.reveal("ck-zhang")


def test_bulk_put_throughput(
    store: OperationalStore, keyring: KeyRing, capsys: pytest.CaptureFixture[str]
) -> None:
    n = 5_000  # full-size figures come from bench runs; this guards the bulk path
    records = [
        VaultRecord(
            f"ck{i:06d}",
            "张小三",
            "resident_id",
            f"1101011990030{i:05d}",
            f"138{i:08d}",
            f"u{i}@example.com",
        )
        for i in range(n)
    ]
    vault = PiiVault(store, keyring)
    started = time.perf_counter()
    vault.put_many(records, "bulk")
    vault.commit_batch("bulk")
    first = time.perf_counter() - started
    started = time.perf_counter()
    vault.put_many(records, "bulk2")  # every data key now exists: unwrap path
    vault.commit_batch("bulk2")
    second = time.perf_counter() - started
    backend = store.dialect
    with capsys.disabled():
        print(
            f"\nvault put_many+commit {backend}: new customers {n / first:,.0f} rows/s, "
            f"known customers {n / second:,.0f} rows/s"
        )
    assert vault.find_by("mobile", "13800000042") == {"ck000042"}
    # a low floor: the machine may be shared; a per-row round-trip regression still fails
    assert n / first > 500 and n / second > 500
