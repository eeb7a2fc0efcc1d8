"""Ingestion end to end on real stores (DuckDB warehouse, SQLite operational store)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from sqlalchemy import inspect, select, text

from nextbest.config import Settings
from nextbest.demo.sample_bank import FAULTS, SampleBank
from nextbest.opstore.matches import MatchQueue
from nextbest.opstore.models.vault import VaultEntry
from nextbest.privacy.pseudonym import customer_keys
from nextbest.services.ingestion import FileCounts, IngestReport, ingest
from nextbest.services.stores import open_stores
from tests.services.conftest import run_cli


def _balanced(report: IngestReport) -> None:
    for f in (*report.files, report.totals):
        assert f.balanced, f
    totals = FileCounts("t", "", "")
    for f in report.files:
        totals.add(f)
    assert totals.read == report.totals.read


def _rows(settings: Settings, sql: str) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse_file), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_every_fault_is_detected_and_no_clean_row_is_touched(
    installed: Settings, export: SampleBank, mapping_path: Path
) -> None:
    report = ingest(installed, export.folder, mapping_path)
    _balanced(report)
    assert report.status == "committed"

    quarantined = set(
        _rows(installed, "SELECT source_file, row_number, field, rule FROM quarantine")
    )
    flagged = set(_rows(installed, "SELECT source_file, row_number, field, rule FROM dq_flag"))
    expected_q = {(f.file, f.row, f.field, f.rule) for f in FAULTS if f.outcome == "reject"}
    expected_f = {(f.file, f.row, f.field, f.rule) for f in FAULTS if f.outcome == "flag"}
    assert quarantined == expected_q
    assert flagged == expected_f
    assert {r[0] for r in _rows(installed, "SELECT DISTINCT outcome FROM quarantine")} == {"reject"}

    with open_stores(installed) as stores:
        matches = MatchQueue(stores.opstore).list(batch_id=report.batch_id)
        ledger = stores.ledger.get(report.batch_id)
        keyring = stores.keyring
    expected_m = [f for f in FAULTS if f.outcome == "match"]
    assert [(m.matched_on, m.status) for m in matches] == [("mobile", "open")] * len(expected_m)
    assert report.match_candidates == len(expected_m)

    # Every clean customer row is stored under its pseudonymous key, exactly once.
    with (export.folder / "customers.csv").open(encoding="gbk", newline="") as fh:
        source = list(csv.reader(fh, delimiter=";"))[1:]
    bad_rows = {f.row for f in FAULTS if f.file == "customers.csv" and f.outcome == "reject"}
    clean_numbers = [r[0] for i, r in enumerate(source, start=2) if i not in bad_rows]
    expected_keys = set(customer_keys(keyring, "sample_core", pa.array(clean_numbers)).to_pylist())
    stored = _rows(installed, "SELECT customer_key, gender FROM customer")
    assert {k for k, _ in stored} == expected_keys
    assert len(stored) == len(expected_keys)

    by_file = {f.file: f for f in report.files}
    customers = by_file["customers.csv"]
    assert (customers.rejected, customers.flagged, customers.queued) == (4, 2, 1)
    assert customers.loaded == export.customers - 7
    transactions = by_file["transactions.parquet"]
    assert transactions.rejected == 2
    assert _rows(installed, 'SELECT count(*) FROM "transaction"')[0][0] == (export.transactions - 2)
    # Lineage matches the report.
    assert ledger is not None and ledger.status == "committed"
    assert (ledger.rows_read, ledger.rows_loaded, ledger.rows_flagged, ledger.rows_rejected,
            ledger.rows_queued) == (report.totals.read, report.totals.loaded,
                                    report.totals.flagged, report.totals.rejected,
                                    report.totals.queued)  # fmt: skip


def test_rerun_is_idempotent_and_overlap_counts_unchanged(
    installed: Settings, export: SampleBank, mapping_path: Path, tmp_path: Path
) -> None:
    first = ingest(installed, export.folder, mapping_path)
    counts = _rows(
        installed, 'SELECT count(*) FROM customer UNION ALL SELECT count(*) FROM "transaction"'
    )
    again = ingest(installed, export.folder, mapping_path)
    assert again.status == "skipped" and again.batch_id == first.batch_id
    assert (
        _rows(
            installed, 'SELECT count(*) FROM customer UNION ALL SELECT count(*) FROM "transaction"'
        )
        == counts
    )

    # The same rows under a different mapping file (new checksum): nothing is stored twice.
    other = tmp_path / "same_mapping.yaml"
    other.write_text(mapping_path.read_text(encoding="utf-8") + "\n# copy\n", encoding="utf-8")
    overlap = ingest(installed, export.folder, other)
    _balanced(overlap)
    assert overlap.status == "committed"
    assert overlap.totals.loaded == overlap.totals.flagged == overlap.totals.queued == 0
    assert overlap.totals.rejected == first.totals.rejected
    assert overlap.totals.unchanged == (
        first.totals.loaded + first.totals.flagged + first.totals.queued
    )
    assert (
        _rows(
            installed, 'SELECT count(*) FROM customer UNION ALL SELECT count(*) FROM "transaction"'
        )
        == counts
    )


def _identifiers(export: SampleBank) -> list[str]:
    with (export.folder / "customers.csv").open(encoding="gbk", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))[1:]
    values: list[str] = []
    for r in rows:
        values += [r[1], r[5], r[6], r[7]]  # name, ID number, mobile, e-mail
    return [v for v in values if v]


def _digit_runs(identifier: str) -> set[str]:
    digits = re.sub(r"\D", "", identifier)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]  # +86 prefix: the national number is what must not appear
    return {digits[i : i + 7] for i in range(len(digits) - 6)}


def _find_leaks(identifiers: list[str], texts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Texts holding an identifier in full (with or without +86) or 7+ of its digits."""
    runs: dict[str, str] = {}
    whole: list[str] = []
    for ident in identifiers:
        for run in _digit_runs(ident):
            runs[run] = ident
        whole.append(ident)
        plain = re.sub(r"[\s\-+]", "", ident)
        whole += [plain, "+86" + plain[-11:]] if plain.isdigit() else []
    whole_re = re.compile("|".join(re.escape(w) for w in sorted(set(whole), key=len, reverse=True)))
    leaks = []
    for table, value in texts:
        for digits in re.findall(r"\d{7,}", value):
            for i in range(len(digits) - 6):
                if digits[i : i + 7] in runs:
                    leaks.append((table, value))
        if whole_re.search(value):
            leaks.append((table, value))
    return leaks


def test_no_identifier_outside_the_vault(
    installed: Settings, export: SampleBank, mapping_path: Path
) -> None:
    ingest(installed, export.folder, mapping_path)
    texts: list[tuple[str, str]] = []
    with duckdb.connect(str(installed.warehouse_file), read_only=True) as con:
        tables = [
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        ]
        assert {"customer", "quarantine", "dq_flag", "transaction"} <= set(tables)
        for t in tables:
            cols = [r[0] for r in con.execute(f'DESCRIBE "{t}"').fetchall()]
            casts = ", ".join(f'CAST("{c}" AS VARCHAR)' for c in cols)
            for row in con.execute(f'SELECT {casts} FROM "{t}"').fetchall():
                texts += [(t, v) for v in row if v is not None]
    with open_stores(installed) as stores:
        engine = stores.opstore.engine
        names = inspect(engine).get_table_names()
        scanned = [n for n in names if not n.startswith("vault_")]
        assert "ingest_batch" in scanned and "match_candidate" in scanned
        with engine.connect() as conn:
            for n in scanned:
                for row in conn.execute(text(f'SELECT * FROM "{n}"')):
                    texts += [(n, str(v)) for v in row if v is not None]
    assert len(texts) > 10_000
    ids = _identifiers(export)
    assert len(ids) > 300
    leaks = _find_leaks(ids, texts)
    # The scan itself can fail: a planted ID-number fragment and a +86 mobile are caught.
    id_number = next(i for i in ids if len(i) == 18)
    mobile = next(i for i in ids if len(re.sub(r"\D", "", i)) == 11)
    probes = [("probe", f"x{id_number[3:11]}y"), ("probe", "+86" + re.sub(r"\D", "", mobile))]
    assert len(_find_leaks(ids, probes)) >= 2
    assert leaks == []
    # The masked forms are there instead.
    masked = _rows(installed, "SELECT mobile_masked FROM customer WHERE mobile_masked IS NOT NULL")
    assert all(re.fullmatch(r"1\d\d\*{4}\d{4}", m) for (m,) in masked)


@pytest.mark.parametrize(
    "point", ["after_vault_write", "mid_warehouse_write", "after_warehouse_commit"]
)
def test_kill_9_mid_ingest_leaves_previous_state_and_rerun_completes(
    installed: Settings, export: SampleBank, mapping_path: Path, tmp_path: Path, point: str
) -> None:
    marker = tmp_path / "crashed"
    killed = run_cli(
        installed, "ingest", str(export.folder), "--mapping", str(mapping_path),
        NEXTBEST_CRASH_AT=point, NEXTBEST_CRASH_MARKER=str(marker),
    )  # fmt: skip
    assert killed.returncode == -9, killed.stderr
    assert marker.read_text() == point  # the kill landed at that point of the write

    with open_stores(installed) as stores:
        (batch,) = stores.ledger.unfinished()
        with stores.opstore.session() as s:
            tags = set(s.scalars(select(VaultEntry.batch_id).where(VaultEntry.state == "pending")))
        assert tags == {batch.batch_id}  # vault rows written before the crash carry the batch id
        committed = stores.warehouse.has_batch(batch.batch_id)
    counts = _rows(installed, "SELECT count(*) FROM customer")[0][0]
    if point == "after_warehouse_commit":
        assert committed and counts > 0
    else:
        assert not committed and counts == 0  # nothing of the interrupted batch is visible
        assert _rows(installed, "SELECT count(*) FROM quarantine")[0][0] == 0

    rerun = ingest(installed, export.folder, mapping_path)
    with open_stores(installed) as stores:
        assert stores.ledger.unfinished() == []
        assert stores.vault.pending_batch_ids() == set()
        status = stores.ledger.get(batch.batch_id)
        with stores.opstore.session() as s:
            vault_batches = set(s.scalars(select(VaultEntry.batch_id)))
    assert status is not None
    if point == "after_warehouse_commit":
        assert status.status == "committed"  # adopted by recovery
        assert rerun.status == "skipped" and rerun.recovered
        assert vault_batches == {batch.batch_id}
    else:
        assert status.status == "discarded"
        assert rerun.status == "committed" and rerun.recovered
        assert batch.batch_id not in vault_batches
    keys = _rows(installed, "SELECT count(*), count(DISTINCT customer_key) FROM customer")[0]
    assert keys[0] == keys[1] == export.customers - 4
    txns = _rows(installed, 'SELECT count(*), count(DISTINCT txn_id) FROM "transaction"')[0]
    assert txns[0] == txns[1] == export.transactions - 2


def _main_in_process(
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
) -> tuple[int, str]:
    """Run the CLI entry point in this process (exit code and stderr, as a shell sees them)."""
    from nextbest.cli.main import main

    monkeypatch.setenv("NEXTBEST_HOME", str(settings.home))
    monkeypatch.setattr("sys.argv", ["nextbest", *args])
    with pytest.raises(SystemExit) as info:
        main()
    return int(info.value.code or 0), capsys.readouterr().err


def _edited_mapping(mapping_path: Path, tmp_path: Path, old: str, new: str) -> Path:
    content = mapping_path.read_text(encoding="utf-8")
    assert old in content
    out = tmp_path / "edited.yaml"
    out.write_text(content.replace(old, new, 1), encoding="utf-8")
    return out


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("name: 姓名", "name: 名字", "customers.csv: mapped column(s) '名字' not found"),
        ('delimiter: ";"', 'delimiter: ","', "wrong delimiter? the mapping says ','"),
        ("encoding: gbk", "encoding: utf-8", "customers.csv: cannot be decoded as utf-8"),
        ('"2": F}', '"2": female}', "columns.gender.codes.2: unknown code 'female'"),
    ],
    ids=["missing-column", "wrong-delimiter", "wrong-encoding", "unknown-code"],
)
def test_bad_input_fails_cleanly(
    installed: Settings, export: SampleBank, mapping_path: Path, tmp_path: Path,
    old: str, new: str, message: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    bad = _edited_mapping(mapping_path, tmp_path, old, new)
    code, err = _main_in_process(
        installed, capsys, monkeypatch, "ingest", str(export.folder), "--mapping", str(bad)
    )
    assert code != 0
    assert message in " ".join(err.split()), err
    assert "Traceback" not in err
    with open_stores(installed) as stores:
        assert stores.ledger.recent(5) == []
        assert set(stores.warehouse.row_counts().values()) == {0}
        with stores.opstore.session() as s:
            assert s.scalars(select(VaultEntry.id)).first() is None


def test_unknown_source_code_is_a_rule_outcome_naming_file_row_and_field(
    installed: Settings, export: SampleBank, mapping_path: Path, tmp_path: Path
) -> None:
    strict = _edited_mapping(mapping_path, tmp_path, "range: flag", "range: reject\n  code: reject")
    report = ingest(installed, export.folder, strict)
    _balanced(report)
    rows = _rows(
        installed,
        "SELECT source_file, row_number, field, value_masked, message FROM quarantine "
        "WHERE rule = 'code' ORDER BY source_file",
    )
    assert [r[:4] for r in rows] == [
        ("customers.csv", 13, "gender", "3"),
        ("transactions.parquet", 11, "channel", "77"),
    ]
    assert ("customers.csv", 30, "annual_income", "range") in set(
        _rows(installed, "SELECT source_file, row_number, field, rule FROM quarantine")
    )


def test_erased_customer_is_not_brought_back(
    installed: Settings, export: SampleBank, mapping_path: Path, tmp_path: Path
) -> None:
    first = ingest(installed, export.folder, mapping_path)
    (key,) = _rows(installed, "SELECT customer_key FROM customer ORDER BY customer_key LIMIT 1")[0]
    with open_stores(installed) as stores:
        stores.vault.erase(key, "customer request")
    other = tmp_path / "again.yaml"
    other.write_text(mapping_path.read_text(encoding="utf-8") + "\n# again\n", encoding="utf-8")
    second = ingest(installed, export.folder, other)
    _balanced(second)
    erased = _rows(installed, "SELECT DISTINCT target_table FROM quarantine WHERE rule = 'erased'")
    assert ("customer",) in erased
    assert second.totals.rejected > first.totals.rejected
    with open_stores(installed) as stores:
        assert key not in {
            e for e in stores.vault.existing_matches("mobile", ["x"]).get("x", set())
        }
        with stores.opstore.session() as s:
            assert (
                s.scalars(select(VaultEntry).where(VaultEntry.customer_key == key)).first() is None
            )


def test_changed_identifier_is_stored_as_a_new_version(
    installed: Settings, export: SampleBank, mapping_path: Path
) -> None:
    ingest(installed, export.folder, mapping_path)
    path = export.folder / "customers.csv"
    with path.open(encoding="gbk", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    with open_stores(installed) as stores:
        # A stored customer whose mobile is in the vault: only its middle digits change, which
        # the masked form (138****1234) cannot show.
        row = next(r for r in rows[1:] if r[6] and stores.vault.find_by("mobile", r[6]))
        old_mobile = re.sub(r"\D", "", row[6])[-11:]
        new_mobile = old_mobile[:3] + ("0000" if old_mobile[3:7] != "0000" else "1111")
        new_mobile += old_mobile[7:]
        (key,) = stores.vault.find_by("mobile", old_mobile)
    row[6] = new_mobile
    with path.open("w", encoding="gbk", newline="") as fh:
        csv.writer(fh, delimiter=";").writerows(rows)

    report = ingest(installed, export.folder, mapping_path)
    _balanced(report)
    with open_stores(installed) as stores:
        assert stores.vault.find_by("mobile", new_mobile) == {key}
        assert stores.vault.find_by("mobile", old_mobile) == set()
        assert stores.vault.reveal(key, purpose="test").mobile == new_mobile
    versions = _rows(
        installed,
        f"SELECT mobile_masked, identity_fingerprint FROM customer WHERE customer_key = '{key}'",
    )
    assert len(versions) == 2
    assert versions[0][0] == versions[1][0]  # same masked form ...
    assert versions[0][1] != versions[1][1]  # ... but a new version all the same
