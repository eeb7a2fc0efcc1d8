from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from nextbest.config import Settings
from nextbest.demo.sample_bank import FAULTS, MAPPING, write_sample_bank
from nextbest.ingest.mapping import load_mapping


def test_sample_bank_is_deterministic_and_bank_specific(tmp_path: Path) -> None:
    a = write_sample_bank(tmp_path / "a", customers=50)
    b = write_sample_bank(tmp_path / "b", customers=50)
    for name in ("customers.csv", "accounts.csv", "owners.csv"):
        assert (a.folder / name).read_bytes() == (b.folder / name).read_bytes()
    assert pq.read_table(a.folder / "transactions.parquet").equals(
        pq.read_table(b.folder / "transactions.parquet")
    )
    raw = (a.folder / "customers.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # GBK, as the mapping declares
    with (a.folder / "customers.csv").open(encoding="gbk", newline="") as fh:
        header = next(csv.reader(fh, delimiter=";"))
    assert header[:3] == ["客户号", "姓名", "性别"]
    mapping, _ = load_mapping(MAPPING)
    assert {f.format for f in mapping.files} == {"csv", "excel", "parquet"}
    assert len(FAULTS) >= 8


def test_cli_sample_bank_ingest_and_status(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from nextbest.cli.main import main

    monkeypatch.setenv("NEXTBEST_HOME", str(settings.home))
    out = tmp_path / "export"
    for args in (
        ["init", "--json"],
        ["sample-bank", "--out", str(out), "--customers", "60", "--json"],
        ["ingest", str(out), "--mapping", str(MAPPING), "--json"],
        ["publish", "--json"],
        ["status", "--json"],
    ):
        monkeypatch.setattr("sys.argv", ["nextbest", *args])
        code = 0
        try:
            main()  # returns on success, exits with a code on failure
        except SystemExit as exc:
            code = int(exc.code or 0)
        assert code == 0, capsys.readouterr().err
        last = capsys.readouterr().out
    status = json.loads(last)
    assert status["tables"]["customer"] == 60 - 4
    (batch,) = status["batches"]
    assert batch["status"] == "committed"
    assert batch["rows_read"] == (
        batch["rows_loaded"] + batch["rows_flagged"] + batch["rows_rejected"]
        + batch["rows_queued"] + batch["rows_unchanged"]
    )  # fmt: skip
    assert status["rejects_by_rule"]["resident_id"] == 1
    assert status["published"]
